import assert from "node:assert/strict";
import { CliError } from "../../src/cli/errors.ts";
import {
  appName,
  camelCase,
  className,
  pascalCase,
  snakeCase,
  variableName,
} from "../../src/cli/names.ts";

Deno.test("pascalCase(), camelCase() and snakeCase() convert between the three spellings", () => {
  for (const input of ["blog_post", "blogPost", "BlogPost"]) {
    assert.equal(pascalCase(input), "BlogPost");
    assert.equal(camelCase(input), "blogPost");
    assert.equal(snakeCase(input), "blog_post");
  }
  assert.equal(snakeCase("HTTPServer"), "http_server");
  assert.equal(snakeCase("Author2"), "author2");
  assert.equal(pascalCase("author"), "Author");
});

Deno.test("variableName() avoids reserved words", () => {
  assert.equal(variableName("Author"), "author");
  assert.equal(variableName("New"), "aggregate");
  assert.equal(variableName("Delete"), "aggregate");
});

Deno.test("className() rejects what cannot be a class name, naming it", () => {
  assert.equal(className("aggregate", "author"), "Author");
  for (const bad of ["1Author", "Blog-Post", "blog post", "", "_", "Été"]) {
    assert.throws(
      () => className("aggregate", bad),
      (error: unknown) =>
        error instanceof CliError &&
        error.message.startsWith(`"${bad}" is not a valid aggregate name`),
    );
  }
  assert.throws(
    () => className("event", "Event"),
    /is a class of @sequent\/core/,
  );
});

Deno.test("appName() accepts identifiers with - and _ and rejects others", () => {
  for (const good of ["blog", "Blog2", "my-blog", "my_blog"]) {
    assert.equal(appName(good), good);
  }
  for (const bad of ["2blog", "-blog", "my blog", "blög", "my.blog"]) {
    assert.throws(() => appName(bad), /is not a valid app name/);
  }
});
