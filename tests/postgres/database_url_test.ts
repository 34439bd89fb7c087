/**
 * Reading `postgres://` URLs leniently, and never letting their password
 * into a message.
 */
import assert from "node:assert/strict";
import {
  DatabaseUrlError,
  parseDatabaseUrl,
  redact,
  secretsOf,
} from "../../src/postgres/_database_url.ts";

Deno.test("parseDatabaseUrl() reads user, password, host, port, database and parameters", () => {
  const url = parseDatabaseUrl(
    "postgres://ben:s3cret@db.example.com:6543/blog?sslmode=require&application_name=web&connect_timeout=3",
  );
  assert.deepEqual(url.endpoints, [{ host: "db.example.com", port: 6543 }]);
  assert.equal(url.user, "ben");
  assert.equal(url.password, "s3cret");
  assert.equal(url.database, "blog");
  assert.equal(url.ssl, "require");
  assert.equal(url.connectTimeoutSeconds, 3);
  assert.deepEqual(url.parameters, { application_name: "web" });
  assert.equal(url.description, "PostgreSQL at db.example.com:6543/blog");
});

Deno.test("parseDatabaseUrl() takes a password with unencoded @ : / ? # and % as written", () => {
  for (
    const password of [
      "p@ss",
      "p:a:ss",
      "pa/ss",
      "pa?ss",
      "pa#ss",
      "50%off",
      "a@b:c/d?e#f",
      "we?x=1@y",
    ]
  ) {
    const url = parseDatabaseUrl(
      `postgres://ben:${password}@127.0.0.1:5432/app?sslmode=disable`,
    );
    assert.equal(url.password, password, password);
    assert.equal(url.user, "ben");
    assert.deepEqual(url.endpoints, [{ host: "127.0.0.1", port: 5432 }]);
    assert.equal(url.database, "app");
    assert.equal(url.ssl, "disable");
    assert.equal(url.description.includes(password), false);
  }
});

Deno.test("parseDatabaseUrl() starts the query at the first ? after the host: a parameter's value may hold ? and @", () => {
  const url = parseDatabaseUrl(
    "postgres://postgres@127.0.0.1:5432/test?application_name=a?b&sslmode=disable",
  );
  assert.equal(url.database, "test");
  assert.deepEqual(url.parameters, { application_name: "a?b" });
  assert.equal(url.ssl, "disable");
  assert.equal(url.description, "PostgreSQL at 127.0.0.1:5432/test");
  // a ? in the password and an @ in a value
  for (
    const [password, query, parameters] of [
      ["pa?x=1", "application_name=a@b", { application_name: "a@b" }],
      ["pa?ss", "application_name=a?b@c/d", { application_name: "a?b@c/d" }],
      ["s3cret", "application_name=x@y/z?w", { application_name: "x@y/z?w" }],
    ] as const
  ) {
    const parsed = parseDatabaseUrl(
      `postgres://ben:${password}@db.example.com:6543/app?${query}`,
    );
    assert.equal(parsed.password, password, query);
    assert.equal(parsed.database, "app", query);
    assert.deepEqual(parsed.parameters, parameters, query);
    assert.deepEqual(parsed.endpoints, [{
      host: "db.example.com",
      port: 6543,
    }]);
  }
});

Deno.test("parseDatabaseUrl() decodes a percent-encoded password and database", () => {
  const url = parseDatabaseUrl(
    "postgresql://ben:p%40ss%2Fword@localhost/my%20db",
  );
  assert.equal(url.password, "p@ss/word");
  assert.equal(url.database, "my db");
});

Deno.test("parseDatabaseUrl() reads IPv6 hosts, several hosts, and a Unix socket folder", () => {
  assert.deepEqual(
    parseDatabaseUrl("postgres://u@[::1]:5433/d").endpoints,
    [{ host: "::1", port: 5433 }],
  );
  assert.deepEqual(
    parseDatabaseUrl("postgres://u@a:1,b:2,c/d").endpoints,
    [{ host: "a", port: 1 }, { host: "b", port: 2 }, { host: "c", port: 5432 }],
  );
  assert.deepEqual(
    parseDatabaseUrl("postgres://u@%2Fvar%2Frun%2Fpostgresql/d").endpoints,
    [{ path: "/var/run/postgresql", port: 5432 }],
  );
  assert.deepEqual(
    parseDatabaseUrl("postgres://u@/d?host=/tmp/pg&port=6000").endpoints,
    [{ path: "/tmp/pg", port: 6000 }],
  );
});

Deno.test("parseDatabaseUrl() uses TLS only when asked for loopback hosts, and prefers it elsewhere", () => {
  assert.equal(parseDatabaseUrl("postgres://u@localhost/d").ssl, "disable");
  assert.equal(parseDatabaseUrl("postgres://u@127.0.0.1/d").ssl, "disable");
  assert.equal(parseDatabaseUrl("postgres://u@db.internal/d").ssl, "prefer");
  assert.equal(
    parseDatabaseUrl("postgres://u@localhost/d?sslmode=verify-full").ssl,
    "verify-full",
  );
});

Deno.test("parseDatabaseUrl() names what is wrong and never quotes the password", () => {
  const secret = "Sup3rS3cret";
  const cases: [string, RegExp][] = [
    [`postgres://ben:${secret}@host:99999/db`, /the port is not a number/],
    [`postgres://ben:${secret}@host:abc/db`, /the port is not a number/],
    [`postgres://ben:${secret}@host:0/db`, /the port is not a number/],
    [`postgres://ben:${secret}@[::1/db`, /IPv6/],
    [
      `postgres://ben:${secret}@host/db?sslmode=maybe`,
      /sslmode must be one of/,
    ],
    [
      `postgres://ben:${secret}@host/db?connect_timeout=soon`,
      /connect_timeout/,
    ],
    [
      `postgres://ben:${secret}@host/db?connect_timeout=Infinity`,
      /connect_timeout/,
    ],
    [`mysql://ben:${secret}@host/db`, /does not start with postgres/],
    [`postgres://ben:${secret}@ho st/db`, /host name/],
  ];
  for (const [url, message] of cases) {
    assert.throws(
      () => parseDatabaseUrl(url),
      (error: unknown) => {
        assert.ok(error instanceof DatabaseUrlError, String(error));
        assert.match(error.message, message);
        assert.equal(error.message.includes(secret), false, error.message);
        assert.equal(String(error.stack).includes(secret), false);
        return true;
      },
      url,
    );
  }
});

Deno.test("secretsOf() finds the password however the URL is broken, and redact() hides it", () => {
  const urls = [
    "postgres://ben:Sup3r@S3cret@host/db",
    "postgres://ben:Sup3r#S3cret@host:99999/db",
    "postgres://ben:Sup3r/S3cret@",
    "postgres://ben:Sup3r%40S3cret@host/db",
    "postgres://host/db?password=Sup3rS3cret",
  ];
  for (const url of urls) {
    const secrets = secretsOf(url);
    const decoded = decodeURIComponent(
      /ben:([^]*)@/.exec(url)?.[1] ?? "Sup3rS3cret",
    );
    const text = `failed to connect to ${url} (password ${decoded})`;
    const hidden = redact(text, secrets);
    assert.equal(hidden.includes("Sup3r"), false, hidden);
    assert.equal(hidden.includes("S3cret"), false, hidden);
  }
  assert.deepEqual(secretsOf("postgres://ben@host/db"), []);
  assert.deepEqual(secretsOf("memory://"), []);
});
