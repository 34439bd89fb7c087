/**
 * The app the event browser's tests look at, on each back end: the blog's
 * posts, a workflow that answers a publication with a command (so there
 * is a causation tree), an asynchronous workflow that fails on one post
 * (so a processor has a parked aggregate), and stored rows holding an
 * injection corpus in every text a page shows: type names, payloads and
 * their keys, user ids, partition keys, unique keys, an error message.
 */
import {
  AggregateRoot,
  type App,
  type AppConfig,
  attrs,
  CalendarDate,
  Command,
  CommandHandler,
  createApp,
  Event,
  InMemoryEventStore,
  InMemoryProcessorStore,
  silentLogger,
  Workflow,
} from "@sequent/core";
import { dropSchemas, schemaName } from "../app/_server_schemas.ts";
import { keptBackend } from "../postgres/_backends.ts";
import {
  AddPost,
  EditPost,
  Post,
  PostCommandHandler,
  PostPublished,
  PublishPost,
} from "../fixtures/blog.ts";

/** Stored verbatim everywhere a page shows text; none of it may run. */
export const CORPUS: readonly string[] = [
  "<script>window.__pwned=1</script>",
  "</script><script>window.__pwned=2</script>",
  '<img src=x onerror="window.__pwned=3">',
  '<svg onload="window.__pwned=4"><circle r="9"/></svg>',
  "javascript:window.__pwned=5",
  '"><iframe srcdoc="<script>parent.__pwned=6</script>"></iframe>',
  "' onmouseover='window.__pwned=7' x='",
  "\u202Etxt.exe\u202C right-to-left override",
  "{{constructor.constructor('window.__pwned=8')()}}",
  '<a href="javascript:window.__pwned=9">click</a>',
  "<style>body{display:none}</style>",
  "\u202Eunclosed right-to-left override",
];

/** The corpus as one string. */
export const HOSTILE: string = CORPUS.join(" ");

/** Answers a publication by marking the post's title. */
export class PublishNotifier extends Workflow {
  static {
    this.on(PostPublished, (workflow, event) =>
      workflow.executeCommands(
        new EditPost({
          aggregateId: event.aggregateId,
          title: "Published!",
          content: "Now public.",
        }),
      ));
  }
}

/** Stands for a hostile event type the app has no class for. */
export class Flagged extends Event.define("Flagged", {
  note: attrs.string(),
}) {}

/** An asynchronous workflow that fails on every `Flagged` event. */
export class FlagAuditor extends Workflow {
  static {
    this.on(Flagged, (_workflow, event) => {
      throw new Error(`refused: ${event.note ?? ""}`);
    });
  }
}

/** A command that files a report holding one `Flagged` event. */
export class FileReport extends Command.define("FileReport", {
  note: attrs.string().required(),
}) {}

/** A report: one `Flagged` event. */
export class Report extends AggregateRoot {
  note: string | undefined;

  static file(command: FileReport): Report {
    const report = new Report(command.aggregateId);
    report.apply(Flagged, { note: command.note });
    return report;
  }

  static {
    this.on(Flagged, (report, event) => {
      report.note = event.note;
    });
  }
}

/** Files reports. */
export class ReportCommandHandler extends CommandHandler {
  static {
    this.on(FileReport, (handler, command) => {
      handler.repository.addAggregate(Report.file(command));
    });
  }
}

/** A back end the browser is tested on. */
export interface BrowserBackend {
  readonly name: string;
  /** The app, with its data stored (see {@linkcode seed}). */
  open(): Promise<{ app: App; data: Seeded }>;
}

/** What {@linkcode seed} stored. */
export interface Seeded {
  /** A post with four events, published, then edited by the workflow. */
  readonly post: string;
  /** The command that published it. */
  readonly publishCommand: string;
  /** The aggregate holding the hostile rows. */
  readonly hostile: string;
  /** The hostile command's id. */
  readonly hostileCommand: string;
  /** A report the asynchronous workflow parks once it runs. */
  readonly flagged: string;
}

function config(base: Partial<AppConfig>): AppConfig {
  return {
    commandHandlers: [
      new PostCommandHandler(),
      new ReportCommandHandler(),
    ],
    workflows: [PublishNotifier],
    processors: [FlagAuditor],
    processorOptions: { pollMs: { min: 5, max: 50 } },
    aggregates: [Post, Report],
    logger: silentLogger,
    ...base,
  };
}

/** Stores the data every browser test looks at. */
export async function seed(app: App): Promise<Seeded> {
  const post = crypto.randomUUID();
  await app.executeCommands(
    new AddPost({
      aggregateId: post,
      author: "ben",
      title: "First",
      content: "Hello",
    }),
  );
  const publishCommand = crypto.randomUUID();
  await app.executeCommands(
    new PublishPost({
      aggregateId: post,
      commandId: publishCommand,
      publicationDate: CalendarDate.parse("2026-12-05"),
    }),
  );
  await app.executeCommands(
    new AddPost({
      aggregateId: crypto.randomUUID(),
      author: "eve",
      title: HOSTILE,
      content: HOSTILE,
    }),
  );
  const flagged = crypto.randomUUID();
  await app.executeCommands(
    new FileReport({ aggregateId: flagged, note: HOSTILE }),
  );
  // rows no class of the app could write: hostile type names and keys
  const hostile = crypto.randomUUID();
  const hostileCommand = crypto.randomUUID();
  const payload = JSON.stringify(
    Object.fromEntries(CORPUS.map((text, i) => [text, `${i}: ${text}`])),
  );
  await app.eventStore.transaction((tx) =>
    tx.commit({
      commandId: hostileCommand,
      commandType: CORPUS[0]!,
      aggregateId: hostile,
      userId: HOSTILE,
      eventAggregateId: undefined,
      eventSequenceNumber: undefined,
      payload,
    }, [{
      aggregateId: hostile,
      aggregateType: CORPUS[2]!,
      partitionKey: CORPUS[4]!,
      events: CORPUS.map((text, i) => ({
        aggregateId: hostile,
        sequenceNumber: i + 1,
        createdAt: new Date(),
        eventType: text,
        payload,
      })),
      uniqueKeys: { [CORPUS[3]!]: HOSTILE },
      snapshotThreshold: undefined,
    }])
  );
  return { post, publishCommand, hostile, hostileCommand, flagged };
}

/**
 * The back ends: memory, the embedded database, and the server when given
 * (less those `SEQUENT_BACKENDS` leaves out, see `keptBackend`).
 */
export function backends(): BrowserBackend[] {
  const list: BrowserBackend[] = [{
    name: "memory",
    async open() {
      const store = new InMemoryEventStore();
      const app = await createApp(config({
        eventStore: store,
        processorStore: new InMemoryProcessorStore(store),
      }));
      return { app, data: await seed(app) };
    },
  }, {
    name: "pglite",
    async open() {
      const app = await createApp(config({ database: "memory://" }));
      return { app, data: await seed(app) };
    },
  }];
  const url = Deno.env.get("DATABASE_URL");
  if (url?.startsWith("postgres")) {
    list.push({
      name: "server",
      async open() {
        const schema = schemaName("test_browser");
        const app = await createApp(config({
          database: url,
          eventStoreSchema: schema,
          viewSchema: `${schema}_view`,
        }));
        const close = app.close.bind(app);
        (app as { close: () => Promise<void> }).close = async () => {
          await close();
          await dropSchemas(url, schema);
        };
        return { app, data: await seed(app) };
      },
    });
  }
  return list.filter((b) => keptBackend(b.name));
}
