import assert from "node:assert/strict";
import {
  ATTRIBUTE_TYPES,
  attributeType,
  parseAttributes,
} from "../../src/cli/attributes.ts";

Deno.test("parseAttributes() maps every known type to its attrs factory", () => {
  const parsed = parseAttributes(ATTRIBUTE_TYPES.map((t) => `a_${t}:${t}`));
  assert.deepEqual(
    parsed.map((a) => a.type),
    [...ATTRIBUTE_TYPES],
  );
  assert.equal(parsed[0]?.name, "aString");
});

Deno.test("attributeType() accepts date_time and datetime for dateTime, and any case", () => {
  assert.equal(attributeType("date_time"), "dateTime");
  assert.equal(attributeType("datetime"), "dateTime");
  assert.equal(attributeType("DateTime"), "dateTime");
  assert.equal(attributeType("String"), "string");
  assert.equal(attributeType("INTEGER"), "integer");
  assert.equal(attributeType("int"), undefined);
});

Deno.test("parseAttributes() camelCases snake_case names", () => {
  assert.deepEqual(parseAttributes(["publication_date:date"]), [
    { name: "publicationDate", type: "date" },
  ]);
});

Deno.test("parseAttributes() rejects an unknown type, listing the known ones", () => {
  assert.throws(
    () => parseAttributes(["name:strin"]),
    {
      message:
        'Unknown attribute type "strin" in "name:strin": use one of string, integer, float, boolean, decimal, date, dateTime, uuid, json',
    },
  );
});

Deno.test("parseAttributes() takes an attribute without a type as a string, as Sequent's generator does", () => {
  assert.deepEqual(parseAttributes(["name", "email", "born_on:date"]), [
    { name: "name", type: "string" },
    { name: "email", type: "string" },
    { name: "bornOn", type: "date" },
  ]);
  assert.throws(
    () => parseAttributes(["1name"]),
    /"1name" in "1name" is not a valid attribute name/,
  );
});

Deno.test("parseAttributes() rejects an empty type, a bad name, a reserved name and a repeated name", () => {
  assert.throws(() => parseAttributes(["name:"]), /Unknown attribute type ""/);
  assert.throws(
    () => parseAttributes(["1name:string"]),
    /"1name" in "1name:string" is not a valid attribute name/,
  );
  assert.throws(
    () => parseAttributes(["aggregate_id:uuid"]),
    /Attribute "aggregateId" in "aggregate_id:uuid" is reserved/,
  );
  assert.throws(
    () => parseAttributes(["name:string", "name:integer"]),
    /Attribute "name" is given twice/,
  );
});
