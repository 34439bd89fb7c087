/**
 * An application's database tasks, run from its `sequent.ts`:
 * `db create|drop|create-event-store|create-view-schema`,
 * `migrate [online|catchup|offline|status]`, `snapshots take|delete-all` and
 * `processors run|status|retry|skip|reset` and `browse`. The
 * `sequent` CLI delegates these commands here, so they run with the
 * application's own configuration.
 *
 * On the embedded database in a folder, the tasks run beside the
 * application holding the folder: they send their statements to it (it
 * serves the database to other processes, see `EmbeddedOptions` in
 * `@sequent/core/postgres`) and say so in one line on standard error. So
 * `deno task migrate` migrates with the code of this checkout (new
 * projectors included) while the application keeps running. Only
 * `db drop` refuses a folder in use.
 *
 * ```ts ignore
 * // sequent.ts
 * import { runTasks } from "@sequent/core/tasks";
 * import { config } from "./app.ts";
 *
 * Deno.exit(await runTasks(config, Deno.args));
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { counted } from "../core/_counted.ts";
import { consoleLogger } from "../core/logger.ts";
import type { MigrationReport } from "../core/view_schema.ts";
import type { OutboxView } from "../core/outbox_view.ts";
import type { ProcessorStore } from "../core/processor_store.ts";
import type { SetAsideMessage } from "../core/inbox.ts";
import type { ProcessorStatus } from "../core/processor_runner.ts";
import { type App, type AppConfig, openApp } from "./create_app.ts";
import { redact, secretsOf } from "../postgres/_database_url.ts";

/**
 * Where tasks write and how they ask for confirmation.
 *
 * @example
 * ```ts
 * import type { TaskIo } from "@sequent/core/tasks";
 *
 * const out: string[] = [];
 * const io: TaskIo = {
 *   stdout: (line) => out.push(line),
 *   stderr: (line) => out.push(line),
 *   confirm: () => Promise.resolve(false),
 * };
 * ```
 */
export interface TaskIo {
  /** Writes a line of output. */
  stdout(line: string): void;
  /** Writes a line of diagnostics. */
  stderr(line: string): void;
  /** Asks a yes/no question. */
  confirm(question: string): Promise<boolean>;
  /**
   * Stops a long-running task (`processors run`); by default SIGINT or
   * SIGTERM does.
   */
  readonly signal?: AbortSignal | undefined;
}

/** The tasks' usage text. */
export const TASKS_USAGE: string =
  `Usage: deno run -A sequent.ts <task> [options]

Tasks:
  db create               Create the database and install the event store
  db drop [--yes]         Drop the database (asks first unless --yes)
  db create-event-store   Install or upgrade the event store's tables
  db create-view-schema   Create the view schema and its versions table
  migrate                 Run both migration steps (development)
  migrate online          Build the new view-schema version's tables
  migrate catchup         Replay what was stored since into them, while
                          writers go on (shortens offline's pause)
  migrate offline         Catch them up and swap them in
  migrate status          Show the view schema's version and each
                          projector's state (active, replaying, inactive)
  snapshots take [--limit N]  Snapshot aggregates marked as needing one
  snapshots delete-all    Delete every snapshot
  processors run          Run the asynchronous processors until stopped
  processors status       Show each processor's checkpoint, lag, holder,
                          parked aggregates and what holds it back, and
                          each JetStream consumer's parked messages (the
                          consumers of the app's inbox)
  processors retry <processor|consumer> <aggregate-id>
                          Handle a parked aggregate's failed event again
  processors skip <processor|consumer> <aggregate-id>
                          Skip it and handle the events behind it
  processors reset <processor> [--yes]
                          Start a processor over (a projector's tables
                          are emptied and rebuilt); asks first unless --yes
  browse [--port N] [--host H] [--masked]
         [--nats SERVERS [--stream S] [--prefix P] [--relay NAME]]
                          Serve the event browser (read-only) on
                          127.0.0.1:8001 until stopped; --masked shows
                          payloads' keys without their values; --nats
                          adds the outbox page: the outbox relay's
                          partitions (its stream, subject prefix and
                          name: default SEQUENT_OUTBOX, sequent, outbox)
                          against the last message of each in JetStream

Options:
  --verbose   Show the stack trace of an error
`;

function terminalIo(): TaskIo {
  return {
    stdout: (line) => console.log(line),
    stderr: (line) => console.error(line),
    confirm: (question) => Promise.resolve(globalThis.confirm(question)),
  };
}

class UsageError extends Error {}

/**
 * Runs one task with the application's configuration.
 *
 * @param config The application's configuration.
 * @param args The task and its options, e.g. `["migrate", "status"]`.
 * @param io Where output goes (default: the terminal).
 * @returns The exit code: 0 done, 1 failed, 2 wrong usage.
 *
 * @example
 * ```ts
 * import { runTasks } from "@sequent/core/tasks";
 *
 * const lines: string[] = [];
 * const io = { stdout: (l: string) => lines.push(l), stderr: (l: string) => lines.push(l), confirm: () => Promise.resolve(true) };
 * const code = await runTasks({ database: "memory://", commandHandlers: [] }, ["migrate", "status"], io);
 * console.assert(code === 0 && lines[0]?.startsWith("view schema"));
 * ```
 */
export async function runTasks(
  config: AppConfig,
  args: readonly string[],
  terminal: TaskIo = terminalIo(),
): Promise<number> {
  // Nothing printed may show the database's password, whatever the URL
  // looks like and whichever error carries it.
  const secrets = secretsOf(config?.database ?? "");
  const io: TaskIo = {
    stdout: (line) => terminal.stdout(redact(line, secrets)),
    stderr: (line) => terminal.stderr(redact(line, secrets)),
    confirm: (question) => terminal.confirm(redact(question, secrets)),
    signal: terminal.signal,
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        yes: { type: "boolean", short: "y" },
        limit: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        masked: { type: "boolean" },
        nats: { type: "string" },
        stream: { type: "string" },
        prefix: { type: "string" },
        relay: { type: "string" },
        verbose: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    io.stderr(
      `error: ${error instanceof Error ? error.message : String(error)}`,
    );
    io.stderr(TASKS_USAGE);
    return 2;
  }
  const { positionals, values } = parsed;
  if (values.help || positionals.length === 0) {
    (values.help ? io.stdout : io.stderr)(TASKS_USAGE);
    return values.help ? 0 : 2;
  }
  try {
    await runTask(config, positionals, values, io);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`error: ${error.message}`);
      io.stderr(TASKS_USAGE);
      return 2;
    }
    if (error instanceof ReportedFailure) return 1;
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`error: ${message.split("\n")[0]}`);
    if (positionals[0] !== "db" && missingDatabase(error)) {
      io.stderr(
        'hint: create it with "db create" (in a generated app: deno task db:create)',
      );
    }
    if (values.verbose && error instanceof Error && error.stack) {
      io.stderr(error.stack);
    }
    return 1;
  }
}

async function withApp<T>(
  config: AppConfig,
  work: (app: App) => Promise<T>,
): Promise<T> {
  // (migrate and migrate status report the read side's problems themselves)
  const app = await openApp(config, { checkReadSide: false });
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}

function describeReport(report: MigrationReport): string {
  if (!report.changed) {
    return `migrate ${report.step}: nothing to do (version ${report.version})`;
  }
  const seconds = (report.durationMs / 1000).toFixed(1);
  return `migrate ${report.step}: version ${report.version}, ${
    report.tables.join(", ") || "no tables"
  }: ${counted(report.events, "event")} replayed, ${
    counted(report.rows, "row")
  } written in ${seconds}s`;
}

async function runTask(
  appConfig: AppConfig,
  positionals: readonly string[],
  options: {
    yes?: boolean | undefined;
    limit?: string | undefined;
    port?: string | undefined;
    host?: string | undefined;
    masked?: boolean | undefined;
    nats?: string | undefined;
    stream?: string | undefined;
    prefix?: string | undefined;
    relay?: string | undefined;
  },
  io: TaskIo,
): Promise<void> {
  const [task, sub, ...rest] = positionals;
  const operands = task === "processors" ? PROCESSOR_OPERANDS[sub ?? ""] : [];
  checkUsage(task, sub);
  if (operands && rest.length > operands.length) {
    throw new UsageError(`Unexpected argument "${rest[operands.length]}"`);
  }
  if (operands && rest.length < operands.length) {
    throw new UsageError(
      `processors ${sub} needs ${
        operands.map((o) => `<${o}>`).join(" ")
      }: missing <${operands[rest.length]}>`,
    );
  }
  const config = throughHolder(appConfig, io);
  let limit: number | undefined;
  if (task === "snapshots" && options.limit !== undefined) {
    limit = Number(options.limit);
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new UsageError(
        `--limit must be a positive integer, got "${options.limit}"`,
      );
    }
  }
  const pg = await import("../postgres/mod.ts");
  switch (task) {
    case "db": {
      if (config.eventStore) {
        throw new Error(
          "db tasks need a database; this app uses an event store object",
        );
      }
      const location = pg.locateDatabase(config.database);
      const where = location.kind === "server"
        ? location.description
        : location.kind === "folder"
        ? location.path
        : "memory://";
      switch (sub) {
        case "create": {
          const created = await pg.createDatabase(
            config.database,
            config.embedded,
          );
          const result = await withEventStore(pg, config);
          io.stdout(
            `${
              created ? "created" : "found"
            } the database (${where}); event store schema ${result.schema} at version ${result.version}`,
          );
          return;
        }
        case "drop": {
          if (
            !options.yes &&
            !(await io.confirm(
              `Drop the database ${where} and everything in it?`,
            ))
          ) {
            throw new Error("Not dropped: confirm, or pass --yes");
          }
          const dropped = await pg.dropDatabase(config.database);
          io.stdout(
            dropped
              ? `dropped the database (${where})`
              : `no database to drop (${where})`,
          );
          return;
        }
        case "create-event-store": {
          const result = await withEventStore(pg, config);
          io.stdout(
            result.previousVersion === result.version
              ? `event store schema ${result.schema} is up to date (version ${result.version})`
              : `event store schema ${result.schema} installed at version ${result.version}`,
          );
          return;
        }
        case "create-view-schema":
          await withApp(config, async (app) => {
            await requireMigrator(app).install();
            io.stdout(
              `view schema ${config.viewSchema ?? "view_schema"} is ready`,
            );
          });
          return;
        default:
          throw new UsageError(
            sub
              ? `Unknown db task "${sub}"`
              : "db needs a task: create, drop, create-event-store or create-view-schema",
          );
      }
    }
    case "migrate":
      await withApp(config, async (app) => {
        const migrator = requireMigrator(app);
        switch (sub) {
          case undefined:
            for (const report of await migrator.migrate()) {
              io.stdout(describeReport(report));
            }
            reportProblems((await migrator.status()).problems, io);
            return;
          case "online":
            io.stdout(describeReport(await migrator.online()));
            reportProblems((await migrator.status()).problems, io);
            return;
          case "catchup":
            io.stdout(describeReport(await migrator.catchUp()));
            reportProblems((await migrator.status()).problems, io);
            return;
          case "offline":
            io.stdout(describeReport(await migrator.offline()));
            reportProblems((await migrator.status()).problems, io);
            return;
          case "status": {
            const status = await migrator.status();
            io.stdout(
              `view schema ${
                config.viewSchema ?? "view_schema"
              }: version ${status.currentVersion} of ${status.targetVersion} (${status.state}${
                status.running ? ", a migration is running" : ""
              })`,
            );
            if (status.tables.length > 0) {
              io.stdout(`next migration rebuilds: ${status.tables.join(", ")}`);
            }
            for (const p of status.projectors) {
              io.stdout(
                `  ${p.name}: ${p.state}${p.processor ? " (processor)" : ""}`,
              );
            }
            reportProblems(status.problems, io);
            return;
          }
          default:
            throw new UsageError(
              `Unknown migrate step "${sub}": use online, catchup, offline or status`,
            );
        }
      });
      return;
    case "snapshots":
      await withApp(config, async (app) => {
        switch (sub) {
          case "take": {
            const taken = await app.snapshotter.takeMarkedSnapshots({ limit });
            io.stdout(`took ${taken} snapshot${taken === 1 ? "" : "s"}`);
            return;
          }
          case "delete-all":
            await app.eventStore.deleteAllSnapshots();
            io.stdout("deleted all snapshots");
            return;
          default:
            throw new UsageError(
              sub
                ? `Unknown snapshots task "${sub}"`
                : "snapshots needs a task: take or delete-all",
            );
        }
      });
      return;
    case "processors": {
      const watch = sub === "run" ? watchHolder(config) : undefined;
      await withApp(watch?.config ?? config, async (app) => {
        await processorsTask(app, sub!, rest, options, io, watch?.gone);
      });
      return;
    }
    case "browse":
      await browseTask(config, browseOptions(options), io);
      return;
    default:
      throw new UsageError(`Unknown task "${task}"`);
  }
}

/** Where `browse` listens, how it shows payloads, and the outbox it shows. */
interface BrowseOptions {
  readonly port: number;
  readonly hostname: string;
  readonly masked: boolean;
  readonly outbox: OutboxFlags | undefined;
}

/** `browse`'s outbox relay: its NATS servers, stream, prefix and name. */
interface OutboxFlags {
  readonly servers: readonly string[];
  readonly stream: string | undefined;
  readonly prefix: string | undefined;
  readonly relay: string | undefined;
}

function outboxFlags(options: {
  nats?: string | undefined;
  stream?: string | undefined;
  prefix?: string | undefined;
  relay?: string | undefined;
}): OutboxFlags | undefined {
  const { nats, stream, prefix, relay } = options;
  if (nats === undefined) {
    const given = (["stream", "prefix", "relay"] as const)
      .filter((flag) => options[flag] !== undefined);
    if (given.length > 0) {
      throw new UsageError(
        `${
          given.map((flag) => `--${flag}`).join(", ")
        } describe the outbox relay: give its NATS servers with --nats too`,
      );
    }
    return undefined;
  }
  const servers = nats.split(",").map((server) => server.trim());
  if (servers.some((server) => server === "")) {
    throw new UsageError(
      `--nats must name NATS servers, such as 127.0.0.1:4222 (several separated by commas), got "${nats}"`,
    );
  }
  return { servers, stream, prefix, relay };
}

function browseOptions(options: {
  port?: string | undefined;
  host?: string | undefined;
  masked?: boolean | undefined;
  nats?: string | undefined;
  stream?: string | undefined;
  prefix?: string | undefined;
  relay?: string | undefined;
}): BrowseOptions {
  const port = Number(options.port ?? 8001);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(
      `--port must be a port number from 0 to 65535, got "${options.port}"`,
    );
  }
  const hostname = options.host ?? "127.0.0.1";
  if (hostname.trim() === "") {
    throw new UsageError("--host must name an address, such as 127.0.0.1");
  }
  return {
    port,
    hostname,
    masked: options.masked ?? false,
    outbox: outboxFlags(options),
  };
}

/** What `browse` needs of `../nats/mod.ts`. */
interface NatsDriver {
  natsOutboxView(options: {
    readonly processors: ProcessorStore;
    readonly servers: readonly string[];
    readonly stream: string | undefined;
    readonly prefix: string | undefined;
    readonly name: string | undefined;
  }): OutboxView;
}

/**
 * Loads the NATS entry point. The specifier is a variable so that the
 * module graph of this entry point (`deno info`, `deno cache`) leaves the
 * NATS client out, as `_embedded.ts` does for PGlite: an app that never
 * shows an outbox never downloads it.
 */
function loadNats(): Promise<NatsDriver> {
  const entry = "../nats/mod.ts";
  return import(entry) as Promise<NatsDriver>;
}

async function browseTask(
  config: AppConfig,
  options: BrowseOptions,
  io: TaskIo,
): Promise<void> {
  // loaded here: the other tasks never load the web framework
  const { serveEventBrowser } = await import("../browser/mod.ts");
  // and the NATS client only for an outbox page
  const nats = options.outbox && await loadNats();
  await withApp(config, async (app) => {
    let outbox: OutboxView | undefined;
    if (nats && options.outbox) {
      const flags = options.outbox;
      if (app.processorStore === undefined) {
        throw new Error(
          "The outbox page reads the relay's checkpoints from the app's processor store, and this app's event store was given without one",
        );
      }
      try {
        outbox = nats.natsOutboxView({
          processors: app.processorStore,
          servers: flags.servers,
          stream: flags.stream,
          prefix: flags.prefix,
          name: flags.relay,
        });
      } catch (error) {
        // a stream name or prefix NATS would refuse
        if (error instanceof TypeError || error instanceof RangeError) {
          throw new UsageError(error.message);
        }
        throw error;
      }
    }
    let termination: Termination | undefined;
    try {
      const served = serveEventBrowser(app, {
        hostname: options.hostname,
        port: options.port,
        payloads: options.masked ? "masked" : "full",
        outbox,
        signal: io.signal ?? (termination = onTermination()).signal,
      });
      io.stderr(
        `The event browser runs at ${served.url} (read-only${
          options.masked ? ", payloads masked" : ""
        }${
          outbox
            ? `; the outbox page shows relay ${outbox.description.relay}, stream ${outbox.description.stream} on NATS at ${
              options.outbox!.servers.join(", ")
            }`
            : ""
        }; Ctrl-C stops it)`,
      );
      await served.finished;
    } finally {
      termination?.dispose();
    }
  });
}

/** The operands each `processors` task takes. */
const PROCESSOR_OPERANDS: Readonly<Record<string, readonly string[]>> = {
  run: [],
  status: [],
  retry: ["processor", "aggregate-id"],
  skip: ["processor", "aggregate-id"],
  reset: ["processor"],
};

async function processorsTask(
  app: App,
  sub: string,
  operands: readonly string[],
  options: { yes?: boolean | undefined },
  io: TaskIo,
  holderGone?: AbortSignal,
): Promise<void> {
  const inbox = app.inbox;
  const consumers = inbox ? app.config.inbox?.consumers ?? [] : [];
  const [name = "", aggregateId = ""] = operands;
  if (inbox && consumers.includes(name)) {
    if (sub === "retry" || sub === "skip") {
      if (!(await inbox.request(name, aggregateId, sub))) {
        throw new Error(
          `Consumer ${name} has no parked message of aggregate ${aggregateId}`,
        );
      }
      io.stdout(
        sub === "retry"
          ? `${name} handles aggregate ${aggregateId}'s parked messages again (a running consumer looks for requests every second)`
          : `${name} drops aggregate ${aggregateId}'s failed message and handles the ones behind it (a running consumer looks for requests every second)`,
      );
      return;
    }
  }
  if (sub === "status" && inbox && consumers.length > 0) {
    const statuses = app.processors
      ? await app.processors.status({ includeOthers: true })
      : [];
    for (const line of describeStatus(statuses)) io.stdout(line);
    for (const consumer of consumers) {
      const parked = await inbox.setAsideMessages(consumer);
      for (const line of describeConsumer(consumer, parked)) io.stdout(line);
    }
    return;
  }
  const runner = app.processors;
  if (!runner) {
    throw new Error(
      "This app declares no processors: list projectors or workflows under processors in its configuration",
    );
  }
  switch (sub) {
    case "run": {
      let termination: Termination | undefined;
      const stop = io.signal ?? (termination = onTermination()).signal;
      io.stderr(
        `running ${
          runner.names.join(", ")
        } as ${runner.owner} (stop with Ctrl-C)`,
      );
      try {
        await runner.run({
          signal: holderGone ? AbortSignal.any([stop, holderGone]) : stop,
        });
      } finally {
        termination?.dispose();
      }
      if (holderGone?.aborted) {
        // the claims are rows of the database that went away with it
        const reason = holderGone.reason instanceof Error
          ? holderGone.reason.message.split("\n")[0]
          : String(holderGone.reason);
        throw new Error(
          `${reason}; the processors stopped without giving up their claims (they lapse by themselves): start them again`,
        );
      }
      io.stderr("stopped; claims released");
      return;
    }
    case "status":
      for (
        const line of describeStatus(
          await runner.status({ includeOthers: true }),
        )
      ) {
        io.stdout(line);
      }
      return;
    case "retry":
      await runner.retry(name, aggregateId);
      io.stdout(
        `${name} retries aggregate ${aggregateId} on its next round`,
      );
      return;
    case "skip":
      await runner.skip(name, aggregateId);
      io.stdout(
        `${name} skips the failed event of aggregate ${aggregateId} on its next round`,
      );
      return;
    case "reset":
      if (!runner.names.includes(name)) {
        throw new Error(
          `No processor "${name}": this app's processors are ${
            runner.names.join(", ")
          }`,
        );
      }
      if (
        !options.yes &&
        !(await io.confirm(
          `Start ${name} over from the first event (a projector's tables are emptied)?`,
        ))
      ) {
        throw new Error("Not reset: confirm, or pass --yes");
      }
      await runner.reset(name);
      io.stdout(`${name} starts over from the first event`);
      return;
  }
}

/** Whether `error` (or its cause) says the database does not exist. */
function missingDatabase(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    if ((e as { code?: unknown }).code === "3D000") return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Who holds a processor: its owner, or its members and their shares. */
function holders(s: ProcessorStatus): string {
  if (s.partitions.length === 0) {
    return s.owner ? `held by ${s.owner}` : "not running";
  }
  const shares = new Map<string, number>();
  for (const q of s.partitions) {
    if (q.owner) shares.set(q.owner, (shares.get(q.owner) ?? 0) + 1);
  }
  if (s.members.length === 0 && shares.size === 0) return "not running";
  const names = [...new Set([...s.members, ...shares.keys()])].sort();
  return `${counted(names.length, "member")}: ${
    names.map((m) => `${m} (${counted(shares.get(m) ?? 0, "partition")})`)
      .join(", ")
  }`;
}

/**
 * The partitions of a partitioned processor worth a line: those behind
 * (with their holder) and those nobody holds.
 */
function describePartitions(s: ProcessorStatus): string[] {
  const lines: string[] = [];
  const behind = s.partitions.filter((q) => q.lagEvents > 0);
  const shown = behind.slice(0, 16).map((q) =>
    `${q.partition} (${q.owner ?? "not held"}, ${
      counted(q.lagEvents, "event")
    })`
  );
  if (behind.length > 0) {
    lines.push(
      `  partitions behind: ${shown.join(", ")}${
        behind.length > shown.length
          ? ` and ${behind.length - shown.length} more`
          : ""
      }`,
    );
  }
  const unheld = s.partitions.filter((q) => !q.owner).map((q) => q.partition);
  if (unheld.length > 0 && unheld.length < s.partitions.length) {
    lines.push(`  partitions not held: ${unheld.join(", ")}`);
  }
  return lines;
}

/** The lines of `processors status`. */
function describeStatus(statuses: readonly ProcessorStatus[]): string[] {
  const lines: string[] = [];
  for (const s of statuses) {
    const lag = s.lagEvents === 0
      ? "up to date"
      : `${
        s.lagEvents >= 10_000
          ? `${s.lagEvents}+ events`
          : counted(s.lagEvents, "event")
      } behind (oldest ${(s.lagMs / 1000).toFixed(1)} s old)`;
    const partitioned = s.partitions.length > 0;
    lines.push(
      `${s.name} (${s.kind === "other" ? "not this app's" : s.kind}${
        partitioned ? ", partitioned" : ""
      }): ${lag}; ${partitioned ? "earliest checkpoint" : "checkpoint"} ${
        s.checkpoint || "start"
      }; ${holders(s)}; ${s.parked.length} parked`,
    );
    if (partitioned) lines.push(...describePartitions(s));
    for (const k of s.parked) {
      lines.push(
        `  parked ${k.aggregateId} at event ${k.sequenceNumber} since ${k.parkedAt.toISOString()}${
          k.request ? ` (${k.request} asked)` : ""
        }: ${k.error.split("\n")[0]}`,
      );
    }
  }
  const blocker = statuses.find((s) => s.blockedBy)?.blockedBy;
  if (blocker) {
    lines.push(
      `held back by pid ${blocker.pid} in database ${blocker.database} (${blocker.state}, ${
        (blocker.ageMs / 1000).toFixed(1)
      } s): ${blocker.query.replace(/\s+/g, " ").slice(0, 200)}`,
    );
  }
  return lines;
}

/** A JetStream consumer's line, and one per parked message. */
function describeConsumer(
  name: string,
  parked: readonly SetAsideMessage[],
): string[] {
  const aggregates = new Set(parked.map((m) => m.aggregateId)).size;
  const lines = [
    `${name} (JetStream consumer): ${
      parked.length === 0
        ? "nothing parked"
        : `${counted(parked.length, "message")} parked, of ${
          counted(aggregates, "aggregate")
        }`
    }`,
  ];
  for (const m of parked) {
    const where =
      `${m.aggregateId} at event ${m.sequenceNumber} (${m.subject}) since ${m.setAsideAt.toISOString()}`;
    lines.push(
      m.error === undefined
        ? `  waiting ${where}, behind its aggregate's parked message`
        : `  parked ${where}${m.request ? ` (${m.request} asked)` : ""}: ${
          m.error.split("\n")[0]
        }`,
    );
  }
  return lines;
}

/**
 * How long after the signal that stops a task a repeat of it is taken for
 * the same one delivered twice: a Ctrl-C reaches every process of the
 * terminal's foreground group, and a wrapper (the `sequent` CLI, a process
 * manager) passes on what it gets, so `sequent.ts` may receive it from
 * both within milliseconds.
 */
const REPEAT_MS = 1_000;

/** A long-running task's stop on SIGINT or SIGTERM. */
interface Termination {
  /** Aborted by the first SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /**
   * Stops listening when the task has ended by itself. After a signal,
   * the listeners stay until {@linkcode REPEAT_MS} after it: the process is
   * still closing the app, which a repeat must not interrupt.
   */
  dispose(): void;
}

/**
 * Aborts on SIGINT or SIGTERM (where the platform has them). Repeats
 * within {@linkcode REPEAT_MS} are ignored, so that a signal delivered
 * twice does not cut the orderly stop short; one sent later ends the
 * process at once, as it would with no listener.
 */
function onTermination(): Termination {
  const controller = new AbortController();
  const stop = () => controller.abort();
  const listening: Deno.Signal[] = [];
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(name, stop);
      listening.push(name);
    } catch {
      // not on this platform (SIGTERM on Windows)
    }
  }
  const unlisten = () => {
    for (const name of listening.splice(0)) {
      Deno.removeSignalListener(name, stop);
    }
  };
  controller.signal.addEventListener("abort", () => {
    // (the process need not wait for this to end)
    Deno.unrefTimer(setTimeout(unlisten, REPEAT_MS));
  }, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      if (!controller.signal.aborted) unlisten();
    },
  };
}

/**
 * Refuses an unknown task or step before anything is opened, so a usage
 * error is one whatever the app's database.
 */
function checkUsage(task: string | undefined, sub: string | undefined): void {
  switch (task) {
    case "db":
      if (
        sub === "create" || sub === "drop" || sub === "create-event-store" ||
        sub === "create-view-schema"
      ) return;
      throw new UsageError(
        sub
          ? `Unknown db task "${sub}"`
          : "db needs a task: create, drop, create-event-store or create-view-schema",
      );
    case "migrate":
      if (
        sub === undefined || sub === "online" || sub === "catchup" ||
        sub === "offline" || sub === "status"
      ) return;
      throw new UsageError(
        `Unknown migrate step "${sub}": use online, catchup, offline or status`,
      );
    case "snapshots":
      if (sub === "take" || sub === "delete-all") return;
      throw new UsageError(
        sub
          ? `Unknown snapshots task "${sub}"`
          : "snapshots needs a task: take or delete-all",
      );
    case "processors":
      if (sub !== undefined && sub in PROCESSOR_OPERANDS) return;
      throw new UsageError(
        sub
          ? `Unknown processors task "${sub}"`
          : "processors needs a task: run, status, retry, skip or reset",
      );
    case "browse":
      if (sub === undefined) return;
      throw new UsageError(`Unexpected argument "${sub}"`);
    default:
      throw new UsageError(`Unknown task "${task}"`);
  }
}

/**
 * A task's failure that it has already described: `runTasks` exits 1
 * without another line.
 */
class ReportedFailure extends Error {}

/**
 * Prints the read side's problems (see `MigrationStatus.problems`), one
 * per line, and fails the task when there are any: migrating cannot mend
 * them, the application's declarations must change.
 */
function reportProblems(problems: readonly string[], io: TaskIo): void {
  if (problems.length === 0) return;
  for (const problem of problems) io.stderr(`problem: ${problem}`);
  throw new ReportedFailure(
    `the read side does not match the database (${problems.length})`,
  );
}

function requireMigrator(app: App): NonNullable<App["migrator"]> {
  if (!app.migrator) {
    throw new Error(
      "View-schema migrations need a PostgreSQL database; this app's event store keeps read models in memory",
    );
  }
  return app.migrator;
}

async function withEventStore(
  pg: typeof import("../postgres/mod.ts"),
  config: AppConfig,
): Promise<{ schema: string; previousVersion: number; version: number }> {
  const client = await pg.connectDatabase(config.database, config.embedded);
  try {
    return await pg.installEventStore(client, {
      schema: config.eventStoreSchema,
      partitions: config.partitions,
    });
  } finally {
    await client.close();
  }
}

/**
 * `processors run` beside the process holding an embedded database's
 * folder: the configuration to open the app with, and a signal aborted
 * (its reason: the error saying so) once that process has closed the
 * database or ended.
 */
interface HolderWatch {
  readonly config: AppConfig;
  readonly gone: AbortSignal;
}

/**
 * Watches, for `processors run`, the process the app reaches the embedded
 * database through. When it goes, the database goes with it: the client
 * through it cannot reconnect, and the runner would retry, logging the
 * same failure with its stack, for as long as it runs. So the first
 * failure saying so is not logged but ends the run, and the task fails in
 * one line (a supervisor restarts it; started anew, it takes the folder
 * itself or goes through the next holder). The runner notices it on its
 * next round, within its longest poll pause.
 */
function watchHolder(config: AppConfig): HolderWatch {
  const gone = new AbortController();
  let through = false;
  const logger = config.logger ?? consoleLogger("warn");
  return {
    gone: gone.signal,
    config: {
      ...config,
      embedded: {
        ...config.embedded,
        onHolder: (holder) => {
          through = true;
          config.embedded?.onHolder?.(holder);
        },
      },
      logger: {
        enabled: (level) => logger.enabled(level),
        log: (level, message, fields) => {
          const error = fields?.["error"];
          if (through && holderLost(error)) {
            if (!gone.signal.aborted) gone.abort(error);
            return;
          }
          logger.log(level, message, fields);
        },
      },
    },
  };
}

/**
 * Whether `error` is a client's through a holder that has closed the
 * database or ended (`SqlError` 08006 or 08007: the connection was lost,
 * with nothing stored or with the outcome unknown, which only that can
 * cause for the holder's clients).
 */
function holderLost(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return code === "08006" || code === "08007";
}

/**
 * The configuration the tasks open the database with: through the process
 * holding an embedded database's folder when one does, saying so once.
 */
function throughHolder(config: AppConfig, io: TaskIo): AppConfig {
  let told = false;
  return {
    ...config,
    embedded: {
      ...config.embedded,
      whenHeld: "use-holder",
      onHolder: (holder) => {
        config.embedded?.onHolder?.(holder);
        if (told) return;
        told = true;
        io.stderr(
          `using the embedded database through the process holding it: pid ${holder.pid} (${holder.command})`,
        );
      },
    },
  };
}
