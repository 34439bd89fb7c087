/**
 * The blog the telemetry tests trace: adding a post stores two events;
 * an inline projector keeps a posts table; asynchronously, a search
 * projector indexes posts and a workflow notifies about each (a command
 * of its own).
 */
import {
  AggregateRoot,
  type App,
  attrs,
  column,
  Command,
  CommandHandler,
  createApp,
  Event,
  InMemoryEventStore,
  type Logger,
  Projector,
  silentLogger,
  table,
  type Telemetry,
  Workflow,
} from "@sequent/core";

export class PostAdded extends Event.define("PostAdded", {
  title: attrs.string(),
  author: attrs.string(),
}) {}
export class PostBodySet extends Event.define("PostBodySet", {
  body: attrs.string(),
}) {}
export class PostNotified extends Event.define("PostNotified", {
  note: attrs.string(),
}) {}

export class AddPost extends Command.define("AddPost", {
  title: attrs.string().required(),
  author: attrs.string().required(),
  body: attrs.string().required(),
}) {}
export class NotifyPost extends Command.define("NotifyPost", {
  note: attrs.string().required(),
}) {}

export class Post extends AggregateRoot {
  static add(c: AddPost): Post {
    const post = new Post(c.aggregateId);
    post.apply(PostAdded, { title: c.title, author: c.author });
    post.apply(PostBodySet, { body: c.body });
    return post;
  }
  notify(note: string): void {
    this.apply(PostNotified, { note });
  }
  static {
    this.on(PostAdded, () => {});
    this.on(PostBodySet, () => {});
    this.on(PostNotified, () => {});
  }
}

export class PostCommandHandler extends CommandHandler {
  static {
    this.on(AddPost, (h, c) => h.repository.addAggregate(Post.add(c)));
    this.on(
      NotifyPost,
      (h, c) => h.doWithAggregate(c, Post, (post) => post.notify(c.note)),
    );
  }
}

export const posts = table("otel_posts", {
  aggregateId: column.uuid().primaryKey(),
  title: column.text().nullable(),
});

export class PostProjector extends Projector {
  static override readonly manages = [posts];
  static {
    this.on(
      PostAdded,
      (p, e) =>
        p.createRecord(posts, { aggregateId: e.aggregateId, title: e.title }),
    );
  }
}

export const search = table("otel_search", {
  aggregateId: column.uuid().primaryKey(),
  words: column.text().nullable(),
});

/** Set to make the search projector fail. */
export const searchFails = { on: false };

export class PostSearchProjector extends Projector {
  static override readonly manages = [search];
  static {
    this.on(PostAdded, (p, e) => {
      if (searchFails.on) throw new Error(`cannot index ${e.title}`);
      return p.createOrUpdateRecord(search, { aggregateId: e.aggregateId }, {
        words: e.title,
      });
    });
  }
}

/** Set to make the notify workflow fail. */
export const notifyFails = { on: false };

export class NotifyWorkflow extends Workflow {
  static {
    this.on(PostAdded, (w, e) => {
      if (notifyFails.on) throw new Error(`cannot notify ${e.title}`);
      return w.executeCommands(
        new NotifyPost({ aggregateId: e.aggregateId, note: e.title ?? "" }),
      );
    });
  }
}

/**
 * The blog app, traced by `telemetry`; with `notifyInline`, the notify
 * workflow runs inline, in the command's unit, instead of as a processor.
 */
export function blogApp(
  telemetry: Telemetry | undefined,
  logger: Logger = silentLogger,
  { notifyInline = false }: { notifyInline?: boolean } = {},
): Promise<App> {
  return createApp({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [new PostCommandHandler()],
    aggregates: [Post],
    projectors: [PostProjector],
    workflows: notifyInline ? [NotifyWorkflow] : [],
    processors: notifyInline
      ? [PostSearchProjector]
      : [PostSearchProjector, NotifyWorkflow],
    logger,
    telemetry,
  });
}
