import {
  AddPost,
  PostAdded,
  PostAuthorChanged,
  PostCommandHandler,
  PostContentChanged,
  PostPublished,
  PostTitleChanged,
  PublishPost,
} from "../fixtures/blog.ts";
import { CalendarDate } from "@sequent/core";
import { commandSpec } from "@sequent/core/testing";

Deno.test("AddPost gives PostAdded, PostAuthorChanged, PostTitleChanged, PostContentChanged in order", async () => {
  const spec = commandSpec({ commandHandlers: [new PostCommandHandler()] });
  const aggregateId = crypto.randomUUID();
  await spec.whenCommand(
    new AddPost({
      aggregateId,
      author: "ben",
      title: "My first blogpost",
      content: "Hello World!",
    }),
  );
  spec.thenEvents(
    new PostAdded({ aggregateId, sequenceNumber: 1 }),
    new PostAuthorChanged({ aggregateId, sequenceNumber: 2, author: "ben" }),
    new PostTitleChanged({
      aggregateId,
      sequenceNumber: 3,
      title: "My first blogpost",
    }),
    new PostContentChanged({
      aggregateId,
      sequenceNumber: 4,
      content: "Hello World!",
    }),
  );
});

Deno.test("AddPost without a title fails validation naming title and stores nothing", async () => {
  const spec = commandSpec({ commandHandlers: [new PostCommandHandler()] });
  const aggregateId = crypto.randomUUID();
  await spec.whenCommand(
    AddPost.fromParams({ aggregateId, author: "ben", content: "Hello World!" }),
  ).thenFails({ title: ["can't be blank"] });
  spec.thenNoEvents();
});

Deno.test("PublishPost on an added post gives PostPublished with the same date", async () => {
  const spec = commandSpec({ commandHandlers: [new PostCommandHandler()] });
  const aggregateId = crypto.randomUUID();
  await spec.givenEvents(new PostAdded({ aggregateId, sequenceNumber: 1 }));
  const today = CalendarDate.today();
  await spec.whenCommand(
    new PublishPost({ aggregateId, publicationDate: today }),
  );
  spec.thenEvents(
    new PostPublished({
      aggregateId,
      sequenceNumber: 2,
      publicationDate: today,
    }),
  );
});
