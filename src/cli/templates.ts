/**
 * The blog template that `new` writes: the files under `templates/blog/`,
 * read as text at build time so that they ship inside the published
 * package. They are named `*.tmpl` so that our own `deno check`, `lint`,
 * `fmt` and `test` leave them alone; `tests/cli` type-checks, formats,
 * lints and tests the app they make instead.
 *
 * @module
 */
import appTs from "../../templates/blog/app.ts.tmpl" with { type: "text" };
import denoJson from "../../templates/blog/deno.json.tmpl" with {
  type: "text",
};
import gitignore from "../../templates/blog/gitignore.tmpl" with {
  type: "text",
};
import readme from "../../templates/blog/README.md.tmpl" with { type: "text" };
import sequentTs from "../../templates/blog/sequent.ts.tmpl" with {
  type: "text",
};
import postTs from "../../templates/blog/lib/post.ts.tmpl" with {
  type: "text",
};
import commandsTs from "../../templates/blog/lib/post/commands.ts.tmpl" with {
  type: "text",
};
import eventsTs from "../../templates/blog/lib/post/events.ts.tmpl" with {
  type: "text",
};
import postAggregateTs from "../../templates/blog/lib/post/post.ts.tmpl" with {
  type: "text",
};
import postHandlerTs from "../../templates/blog/lib/post/post_command_handler.ts.tmpl" with {
  type: "text",
};
import postRecordsTs from "../../templates/blog/app/records/post_records.ts.tmpl" with {
  type: "text",
};
import postProjectorTs from "../../templates/blog/app/projectors/post_projector.ts.tmpl" with {
  type: "text",
};
import webAppTs from "../../templates/blog/web/app.ts.tmpl" with {
  type: "text",
};
import webServerTs from "../../templates/blog/web/server.ts.tmpl" with {
  type: "text",
};
import webLayoutTs from "../../templates/blog/web/views/layout.ts.tmpl" with {
  type: "text",
};
import webPostsTs from "../../templates/blog/web/views/posts.ts.tmpl" with {
  type: "text",
};
import webFormTs from "../../templates/blog/web/views/form.ts.tmpl" with {
  type: "text",
};
import webPostRoutesTs from "../../templates/blog/web/routes/posts.ts.tmpl" with {
  type: "text",
};
import webFormValuesTs from "../../templates/blog/web/routes/form_values.ts.tmpl" with {
  type: "text",
};
import handlerTestTs from "../../templates/blog/tests/lib/post/post_command_handler_test.ts.tmpl" with {
  type: "text",
};
import projectorTestTs from "../../templates/blog/tests/app/projectors/post_projector_test.ts.tmpl" with {
  type: "text",
};

/**
 * One file of a template: where it goes in the new app and its text, in
 * which `{{name}}` (the app's name) and `{{cli}}` (how to run this CLI)
 * are replaced.
 *
 * @example
 * ```ts
 * import type { TemplateFile } from "./templates.ts";
 *
 * const file: TemplateFile = { path: ".gitignore", text: "data/\n" };
 * ```
 */
export interface TemplateFile {
  /** The path in the app, with `/` separators. */
  readonly path: string;
  /** The file's text, with `{{…}}` placeholders. */
  readonly text: string;
}

/**
 * The blog app: a Post aggregate, its command handler, a projector, the
 * web application (Hono, server-rendered), the configuration, the task
 * runner, three tests, a README. `deno.json` is
 * completed by `new` with the app's imports.
 *
 * @example
 * ```ts
 * import { BLOG_TEMPLATE } from "./templates.ts";
 *
 * console.assert(BLOG_TEMPLATE.some((file) => file.path === "lib/post/post.ts"));
 * ```
 */
export const BLOG_TEMPLATE: readonly TemplateFile[] = [
  { path: "deno.json", text: denoJson },
  { path: "README.md", text: readme },
  { path: ".gitignore", text: gitignore },
  { path: "app.ts", text: appTs },
  { path: "sequent.ts", text: sequentTs },
  { path: "lib/post.ts", text: postTs },
  { path: "lib/post/commands.ts", text: commandsTs },
  { path: "lib/post/events.ts", text: eventsTs },
  { path: "lib/post/post.ts", text: postAggregateTs },
  { path: "lib/post/post_command_handler.ts", text: postHandlerTs },
  { path: "app/records/post_records.ts", text: postRecordsTs },
  { path: "app/projectors/post_projector.ts", text: postProjectorTs },
  { path: "web/app.ts", text: webAppTs },
  { path: "web/server.ts", text: webServerTs },
  { path: "web/routes/form_values.ts", text: webFormValuesTs },
  { path: "web/routes/posts.ts", text: webPostRoutesTs },
  { path: "web/views/form.ts", text: webFormTs },
  { path: "web/views/layout.ts", text: webLayoutTs },
  { path: "web/views/posts.ts", text: webPostsTs },
  { path: "tests/lib/post/post_command_handler_test.ts", text: handlerTestTs },
  {
    path: "tests/app/projectors/post_projector_test.ts",
    text: projectorTestTs,
  },
];
