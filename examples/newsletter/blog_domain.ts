/**
 * The blog of the newsletter example: posts are added, then published;
 * `PostPublished` is the one event that leaves the service.
 */
import {
  AggregateRoot,
  attrs,
  Command,
  CommandHandler,
  Event,
} from "@sequent/core";

/** A post was written. */
export class PostAdded extends Event.define("PostAdded", {
  title: attrs.string().required(),
}) {}

/** A post went public: other services hear of it. */
export class PostPublished extends Event.define("PostPublished", {
  title: attrs.string().required(),
}) {}

/** Write a post. */
export class AddPost extends Command.define("AddPost", {
  title: attrs.string().required(),
}) {}

/** Make a post public. */
export class PublishPost extends Command.define("PublishPost", {}) {}

/** A post. */
export class Post extends AggregateRoot {
  title = "";
  published = false;

  static add(id: string, title: string): Post {
    const post = new Post(id);
    post.apply(PostAdded, { title });
    return post;
  }

  publish(): void {
    if (!this.published) this.apply(PostPublished, { title: this.title });
  }

  static {
    this.on(PostAdded, (post, e) => {
      post.title = e.title;
    });
    this.on(PostPublished, (post) => {
      post.published = true;
    });
  }
}

/** Adds and publishes posts. */
export class PostCommandHandler extends CommandHandler {
  static {
    this.on(AddPost, (h, c) => {
      h.repository.addAggregate(Post.add(c.aggregateId, c.title));
    });
    this.on(
      PublishPost,
      (h, c) => h.doWithAggregate(c, Post, (post) => post.publish()),
    );
  }
}
