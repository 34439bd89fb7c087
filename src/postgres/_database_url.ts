/**
 * Reading a `postgres://` URL, and keeping its password out of every
 * message. The URL is read leniently: a password with unencoded `@`, `:`,
 * `/`, `?` or `#` still works, because the user information ends at the
 * last `@` before the host. Nothing this module throws or returns for
 * display contains the password, and {@linkcode secretsOf} lists every
 * text that might be one, even in a URL too broken to read, so callers can
 * redact whatever they print.
 *
 * @module
 */

/** How a connection uses TLS, as libpq's `sslmode` says. */
export type SslMode =
  | "disable"
  | "prefer"
  | "require"
  | "verify-ca"
  | "verify-full";

const SSL_MODES: readonly SslMode[] = [
  "disable",
  "prefer",
  "require",
  "verify-ca",
  "verify-full",
];

/** A server's address: a host and port, or a Unix socket's path. */
export type Endpoint =
  | { readonly host: string; readonly port: number }
  | { readonly path: string; readonly port: number };

/** What a `postgres://` URL says. */
export interface DatabaseUrl {
  /** The servers to try, in order. */
  readonly endpoints: readonly Endpoint[];
  /** The user name. */
  readonly user: string;
  /** The password, if any. */
  readonly password: string | undefined;
  /** The database. */
  readonly database: string;
  /** Whether the URL names the database (else it is the default). */
  readonly databaseNamed: boolean;
  /** The TLS mode. */
  readonly ssl: SslMode;
  /** A file of root certificates (PEM) for verifying the server. */
  readonly sslRootCert: string | undefined;
  /** Seconds to wait for a connection, when the URL sets it. */
  readonly connectTimeoutSeconds: number | undefined;
  /** Run-time parameters for the session (`application_name`, …). */
  readonly parameters: Readonly<Record<string, string>>;
  /** `PostgreSQL at host:port/database`, for messages. */
  readonly description: string;
}

/** A database URL that cannot be read; its message never holds a secret. */
export class DatabaseUrlError extends TypeError {
  /** @param problem What is wrong, without any part of the URL's secrets. */
  constructor(problem: string) {
    super(
      `The database URL is not valid: ${problem} (expected postgres://user:password@host:port/database)`,
    );
    this.name = "DatabaseUrlError";
  }
}

const PREFIX = /^postgres(?:ql)?:\/\//i;

/** A URL's scheme, when it has one followed by `//`. */
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;

/**
 * What a database URL names, before anything is opened: a server (the URL
 * as given), an embedded database's folder, or one in memory.
 */
export type DatabaseTarget =
  | { readonly kind: "server"; readonly url: string }
  | { readonly kind: "folder"; readonly path: string }
  | { readonly kind: "memory" };

/**
 * Tells what a database URL names: `postgres://` or `postgresql://` a
 * server, `memory://` the embedded database in memory, `file://<path>` or
 * a value without a scheme the embedded database in that folder. A value
 * meant for a server but mistyped (`postgres:` without `//`, or no scheme
 * but an `@` as in `user:password@host`) is refused rather than taken for
 * a folder's name, which would create a folder named after the password.
 *
 * @param url The URL, not blank (a blank one means the default folder,
 *   which the caller knows).
 * @returns What it names.
 * @throws {DatabaseUrlError} for a mistyped server URL, never quoting it.
 * @throws {TypeError} for `file://` without a path, or another scheme.
 */
export function databaseTarget(url: string): DatabaseTarget {
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    const typo = /^(postgres(?:ql)?):/i.exec(url)?.[1]?.toLowerCase();
    if (typo !== undefined) {
      throw new DatabaseUrlError(
        `it starts with "${typo}:" but not "${typo}://"`,
      );
    }
    if (url.includes("@")) {
      throw new DatabaseUrlError(
        `it has no scheme but holds an "@" as a server's address does; a folder whose path holds "@" is written file://<path>`,
      );
    }
    return { kind: "folder", path: url };
  }
  switch (scheme) {
    case "postgres":
    case "postgresql":
      return { kind: "server", url };
    case "memory":
      return { kind: "memory" };
    case "file": {
      const path = decode(url.slice("file://".length));
      if (path === "") {
        throw new TypeError(
          `Database URL "file://" names no folder: use file://./data/db or file:///absolute/path`,
        );
      }
      return { kind: "folder", path };
    }
    default:
      throw new TypeError(
        `Database URL scheme "${scheme}:" is not supported: use postgres://, postgresql://, memory:// or file://`,
      );
  }
}
const QUERY =
  /^[A-Za-z_][A-Za-z0-9_]*=[^&]*(?:&[A-Za-z_][A-Za-z0-9_]*=[^&]*)*$/;

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The URL cut into its parts, before any of them is interpreted. */
interface Parts {
  readonly userinfo: string | undefined;
  readonly hosts: string;
  readonly path: string;
  readonly query: string | undefined;
}

/**
 * Whether the `?` between `head` and `tail` is inside a password rather
 * than the start of the query: there is no `@` before it, and after an
 * `@` after it comes what looks like a host and a database (a later `@`
 * may be in a parameter's value).
 */
function passwordGoesOn(head: string, tail: string): boolean {
  if (head.includes("@")) return false;
  for (let at = tail.indexOf("@"); at >= 0; at = tail.indexOf("@", at + 1)) {
    if (/^[^=&]*(?::\d+)?\/|^[^=&]*:\d+$/.test(tail.slice(at + 1))) {
      return true;
    }
  }
  return false;
}

function split(url: string): Parts | undefined {
  const prefix = PREFIX.exec(url);
  if (!prefix) return undefined;
  let rest = url.slice(prefix[0].length);
  let query: string | undefined;
  // The query starts at the first `?` after the host: the first one that
  // is followed by parameters and is not inside a password (a value may
  // hold `?` too: `application_name=a?b`).
  for (let q = rest.indexOf("?"); q >= 0; q = rest.indexOf("?", q + 1)) {
    const tail = rest.slice(q + 1);
    const head = rest.slice(0, q);
    if ((tail === "" || QUERY.test(tail)) && !passwordGoesOn(head, tail)) {
      query = tail;
      rest = head;
      break;
    }
  }
  const at = rest.lastIndexOf("@");
  const userinfo = at >= 0 ? rest.slice(0, at) : undefined;
  const address = at >= 0 ? rest.slice(at + 1) : rest;
  const slash = address.indexOf("/");
  return {
    userinfo,
    hosts: slash >= 0 ? address.slice(0, slash) : address,
    path: slash >= 0 ? address.slice(slash + 1) : "",
    query,
  };
}

/**
 * Every text that may be a secret in `url`: the password as written and
 * decoded, the widest reading of it (everything between the first `:`
 * after the scheme and the last `@`), and a `password` parameter. Works on
 * any string, even one that is no URL at all.
 *
 * @param url The URL as the user gave it.
 * @returns The candidates, longest first; none shorter than 3 characters.
 */
export function secretsOf(url: string): string[] {
  const found = new Set<string>();
  const add = (text: string | undefined) => {
    if (text === undefined) return;
    for (const t of [text, decode(text), encodeURIComponent(decode(text))]) {
      if (t.length >= 3) found.add(t);
    }
  };
  const scheme = url.indexOf("://");
  const body = scheme >= 0 ? url.slice(scheme + 3) : url;
  const lastAt = body.lastIndexOf("@");
  if (lastAt >= 0) {
    const userinfo = body.slice(0, lastAt);
    const colon = userinfo.indexOf(":");
    if (colon >= 0) {
      add(userinfo.slice(colon + 1));
      // the password as a lenient reader would end it at an earlier '@'
      for (let i = colon + 1; i < userinfo.length; i++) {
        if (userinfo[i] === "@") add(userinfo.slice(colon + 1, i));
      }
    }
  }
  const parts = split(url);
  if (parts?.userinfo !== undefined) {
    const colon = parts.userinfo.indexOf(":");
    if (colon >= 0) add(parts.userinfo.slice(colon + 1));
  }
  for (const match of url.matchAll(/[?&]password=([^&]*)/gi)) add(match[1]);
  return [...found].sort((a, b) => b.length - a.length);
}

/**
 * `text` with every secret replaced by `***`.
 *
 * @param text A message, log line or stack trace.
 * @param secrets What to hide (see {@linkcode secretsOf}).
 * @returns The text without them.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.replaceAll(secret, "***");
  }
  return out;
}

/** Reads an environment variable when the permission is granted. */
function env(name: string): string | undefined {
  try {
    const status = Deno.permissions.querySync({ name: "env", variable: name });
    return status.state === "granted" ? Deno.env.get(name) : undefined;
  } catch {
    return undefined;
  }
}

function isLoopback(endpoint: Endpoint): boolean {
  if ("path" in endpoint) return true;
  const h = endpoint.host.toLowerCase();
  return h === "localhost" || h === "::1" || h.startsWith("127.");
}

function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new DatabaseUrlError(`${what} is not a number from 1 to 65535`);
  }
  return Number(text);
}

function parseEndpoints(hosts: string, defaultPort: number): Endpoint[] {
  if (hosts === "") return [];
  return hosts.split(",").map((entry, i) => {
    const what = hosts.includes(",") ? `the port of host ${i + 1}` : "the port";
    let host = entry;
    let port = defaultPort;
    if (entry.startsWith("[")) {
      const close = entry.indexOf("]");
      if (close < 0) {
        throw new DatabaseUrlError("an IPv6 address lacks its closing ']'");
      }
      host = entry.slice(1, close);
      const after = entry.slice(close + 1);
      if (after !== "") {
        if (!after.startsWith(":")) {
          throw new DatabaseUrlError("an IPv6 address is followed by text");
        }
        port = parsePort(after.slice(1), what);
      }
    } else {
      const colon = entry.lastIndexOf(":");
      if (colon >= 0) {
        host = entry.slice(0, colon);
        port = parsePort(entry.slice(colon + 1), what);
      }
      host = decode(host);
    }
    if (host.startsWith("/")) return { path: host, port };
    if (host === "") host = "localhost";
    if (/[\s@/\\]/.test(host)) {
      throw new DatabaseUrlError("a host name holds a character hosts cannot");
    }
    return { host, port };
  });
}

/**
 * Reads a `postgres://` (or `postgresql://`) URL:
 * `postgres://user:password@host:port,host2:port2/database?sslmode=require&application_name=x`.
 * Special characters in the password may be percent-encoded or not. A
 * host may be a Unix socket folder (`%2Fvar%2Frun%2Fpostgresql`, or
 * `?host=/var/run/postgresql`). Parameters other than `sslmode`,
 * `sslrootcert`, `connect_timeout`, `host`, `port`, `user`, `password` and
 * `dbname` become run-time parameters of the session. What the URL leaves
 * out comes from `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`
 * and `PGSSLMODE` when the environment may be read; the TLS mode defaults
 * to `disable` for loopback hosts and Unix sockets and `prefer` otherwise.
 *
 * @param url The URL.
 * @returns What it says.
 * @throws {DatabaseUrlError} naming what is wrong, never quoting a secret.
 */
export function parseDatabaseUrl(url: string): DatabaseUrl {
  const parts = split(url);
  if (!parts) {
    throw new DatabaseUrlError("it does not start with postgres://");
  }
  const params = new Map<string, string>();
  for (const pair of parts.query ? parts.query.split("&") : []) {
    const eq = pair.indexOf("=");
    params.set(decode(pair.slice(0, eq)), decode(pair.slice(eq + 1)));
  }
  const take = (name: string): string | undefined => {
    const value = params.get(name);
    params.delete(name);
    return value;
  };
  let user: string | undefined;
  let password: string | undefined;
  if (parts.userinfo !== undefined) {
    const colon = parts.userinfo.indexOf(":");
    user = decode(colon >= 0 ? parts.userinfo.slice(0, colon) : parts.userinfo);
    if (colon >= 0) password = decode(parts.userinfo.slice(colon + 1));
  }
  user = take("user") ?? (user || undefined) ?? env("PGUSER") ??
    env("USER") ?? "postgres";
  password = take("password") ?? password ?? env("PGPASSWORD");
  const portParam = take("port");
  const defaultPort = portParam !== undefined
    ? parsePort(portParam, "the port parameter")
    : env("PGPORT") !== undefined
    ? parsePort(env("PGPORT")!, "PGPORT")
    : 5432;
  const hostParam = take("host");
  let endpoints = parseEndpoints(parts.hosts, defaultPort);
  if (hostParam !== undefined) {
    endpoints = parseEndpoints(hostParam, defaultPort);
  }
  if (endpoints.length === 0) {
    endpoints = parseEndpoints(env("PGHOST") ?? "localhost", defaultPort);
  }
  const named = take("dbname") ?? (decode(parts.path) || undefined);
  const database = named ?? env("PGDATABASE") ?? user;
  const sslText = take("sslmode") ?? env("PGSSLMODE");
  let ssl: SslMode;
  if (sslText === undefined) {
    ssl = endpoints.every(isLoopback) ? "disable" : "prefer";
  } else if ((SSL_MODES as readonly string[]).includes(sslText)) {
    ssl = sslText as SslMode;
  } else if (sslText === "allow") {
    ssl = "prefer";
  } else {
    throw new DatabaseUrlError(
      `sslmode must be one of ${SSL_MODES.join(", ")}`,
    );
  }
  const sslRootCert = take("sslrootcert");
  const timeoutText = take("connect_timeout");
  let connectTimeoutSeconds: number | undefined;
  if (timeoutText !== undefined) {
    connectTimeoutSeconds = Number(timeoutText);
    // (a timer longer than 2^31 - 1 ms would fire at once)
    if (!(connectTimeoutSeconds >= 0 && connectTimeoutSeconds <= 2_147_483)) {
      throw new DatabaseUrlError("connect_timeout is not a number of seconds");
    }
  }
  const first = endpoints[0]!;
  const where = "path" in first
    ? `${first.path}/.s.PGSQL.${first.port}`
    : `${
      first.host.includes(":") ? `[${first.host}]` : first.host
    }:${first.port}`;
  return {
    endpoints,
    user,
    password,
    database,
    databaseNamed: named !== undefined,
    ssl,
    sslRootCert,
    connectTimeoutSeconds,
    parameters: Object.fromEntries(params),
    description: `PostgreSQL at ${where}/${database}`,
  };
}
