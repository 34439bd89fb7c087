/**
 * The CLI's help texts: the overview and one per command and subcommand.
 *
 * @module
 */

/**
 * The overview printed by `sequent --help`.
 *
 * @example
 * ```ts
 * import { USAGE } from "./help.ts";
 *
 * console.assert(USAGE.startsWith("Usage: sequent <command>"));
 * ```
 */
export const USAGE: string = `Usage: sequent <command> [options]

Scaffold a Sequent for Deno app and run its database tasks.

Commands:
  new <name>                  Create an app in the folder <name>
  generate aggregate <Name>   Add an aggregate, its command handler and a test
  generate command <Aggregate> <Command> [attr[:type] ...]
                              Add a command, or attributes to one
  generate event <Aggregate> <Event> [attr[:type] ...]
                              Add an event, or attributes to one
  db create | drop | create-event-store | create-view-schema
                              Create or drop the app's database or schemas
  migrate [online | catchup | offline | status]
                              Migrate the view schema (both steps by default)
  snapshots take [--limit N] | delete-all
                              Take or delete aggregate snapshots
  processors run | status | retry | skip | reset
                              Run the asynchronous processors, or look after them
  browse [--port N] [--host H] [--masked]
         [--nats SERVERS [--stream S] [--prefix P] [--relay NAME]]
                              Serve the event browser for the app's store
  help [command]              Show help for a command

"g" is short for "generate". The generators and the other commands run in an
app's folder; db, migrate, snapshots, processors and browse run its sequent.ts with
the same arguments.

Options:
  -h, --help     Show help (also after a command: sequent new --help)
  --version      Show the version
  --verbose      Show the stack trace of an error

Exit codes: 0 done, 1 error, 2 wrong usage.`;

const NEW = `Usage: sequent new <name>

Creates a Sequent app in the folder <name> (a path; its last part is the app's
name: a letter, then letters, digits, "-" or "_"). The folder must not exist,
or must be empty. The app is the getting-started blog: a Post aggregate, its
command handler, a projector keeping a post_records table, a web application
(web/, Hono: deno task start), the configuration (app.ts), the database tasks
(sequent.ts, deno task …), three tests, a README.

Run from JSR, the app imports jsr:@sequent/core; run from a checkout of
Sequent for Deno (deno run -A cli.ts new blog), it imports that checkout.

Then:
  cd <name>
  deno task migrate
  deno task test
  deno task start

Options:
  -h, --help     Show this help
  --verbose      Show the stack trace of an error`;

const GENERATE =
  `Usage: sequent generate <aggregate | command | event> ...   (or: sequent g ...)

  generate aggregate <Name>
  generate command <Aggregate> <Command> [attr[:type] ...]
  generate event <Aggregate> <Event> [attr[:type] ...]

Run these in an app's folder. They write formatted TypeScript (running
deno fmt on the files they touch), never overwrite a file or a class, and
register what they add. See "sequent generate <kind> --help".

Options:
  -h, --help     Show this help
  --verbose      Show the stack trace of an error`;

const GENERATE_AGGREGATE = `Usage: sequent generate aggregate <Name>

Adds an aggregate (Author, author or blog_post; files are snake_case):
  lib/<name>.ts                         re-exports the aggregate's classes
  lib/<name>/commands.ts                Add<Name>
  lib/<name>/events.ts                  <Name>Added
  lib/<name>/<name>.ts                  the aggregate, with static add(command)
  lib/<name>/<name>_command_handler.ts  on(Add<Name>): adds the aggregate
  tests/lib/<name>/<name>_command_handler_test.ts
and registers the command handler and the aggregate in app.ts.

Options:
  -h, --help     Show this help
  --verbose      Show the stack trace of an error`;

const TYPES =
  `Types: string (the default: \`name\` is \`name:string\`), integer, float,
boolean, decimal, date, dateTime (or date_time, datetime), uuid, json; each
is the attrs function of that name.
Generated attributes are optional: add .required() to those that must be
given.`;

const GENERATE_COMMAND =
  `Usage: sequent generate command <Aggregate> <Command> [attr[:type] ...]

Adds the command to lib/<aggregate>/commands.ts, re-exports it from
lib/<aggregate>.ts, and adds a handler for it, to fill in, to the aggregate's
command handler. When the command exists already (like Add<Aggregate>), adds
the attributes to it instead.

  sequent generate command Author AddAuthor name email

${TYPES}

Options:
  -h, --help     Show this help
  --verbose      Show the stack trace of an error`;

const GENERATE_EVENT =
  `Usage: sequent generate event <Aggregate> <Event> [attr[:type] ...]

Adds the event to lib/<aggregate>/events.ts, re-exports it from
lib/<aggregate>.ts, and adds a handler for it, to fill in, to the aggregate.
When the event exists already (like <Aggregate>Added), adds the attributes to
it instead.

  sequent generate event Author AuthorNameSet name:string

${TYPES}

Options:
  -h, --help     Show this help
  --verbose      Show the stack trace of an error`;

const DELEGATED =
  `Runs "deno run -A sequent.ts" in the app's folder with the same arguments;
sequent.ts reads the database from app.ts (DATABASE_URL, or the embedded
database in data/db).`;

const DB =
  `Usage: sequent db <create | drop | create-event-store | create-view-schema>

  db create               Create the database and its event store
  db drop [--yes]         Drop the database (asks first, unless --yes)
  db create-event-store   Create the event store in an existing database
  db create-view-schema   Create the view schema in an existing database

${DELEGATED}

Options:
  -h, --help     Show this help
  --verbose      Show the stack trace of an error`;

const DB_DROP = `Usage: sequent db drop [--yes]

Drops the app's database, with all its events and records. Asks for
confirmation first, unless --yes is given.

${DELEGATED}

Options:
  -y, --yes      Do not ask for confirmation
  -h, --help     Show this help
  --verbose      Show the stack trace of an error`;

const MIGRATE = `Usage: sequent migrate [online | catchup | offline | status]

  migrate           Both steps, one after the other (for development)
  migrate online    Build the new view-schema version (from app.ts migrations)
                    next to the live one, replaying events, while the app runs
  migrate catchup   Replay the events stored since into it, while the app runs
                    (as often as you like: it shortens offline's pause)
  migrate offline   Catch up with the events stored meanwhile and switch to the
                    new version (stop writing events first)
  migrate status    Show the current and the configured view-schema version,
                    and each projector's state: active, replaying or inactive

${DELEGATED}

Options:
  -h, --help     Show this help
  --verbose      Show the stack trace of an error`;

const SNAPSHOTS = `Usage: sequent snapshots <take [--limit N] | delete-all>

  snapshots take [--limit N]   Snapshot the aggregates that need one (at most N)
  snapshots delete-all         Delete all snapshots

${DELEGATED}

Options:
  -h, --help     Show this help
  --verbose      Show the stack trace of an error`;

const SNAPSHOTS_TAKE = `Usage: sequent snapshots take [--limit N]

Snapshots the aggregates marked as needing a new snapshot.

${DELEGATED}

Options:
  --limit N      Snapshot at most N aggregates (a positive integer)
  -h, --help     Show this help
  --verbose      Show the stack trace of an error`;

const PROCESSORS =
  `Usage: sequent processors <run | status | retry | skip | reset> ...

  processors run                 Run the app's asynchronous projectors and
                                 workflows until stopped (Ctrl-C); more than
                                 one may run: one holds each processor, the
                                 others take over when it stops or dies
  processors status              Per processor: lag, checkpoint, holder,
                                 parked aggregates, and the transaction that
                                 holds every processor back, if one does;
                                 per JetStream consumer of the app's inbox:
                                 its parked messages
  processors retry <processor|consumer> <aggregate-id>
                                 Handle a parked aggregate's failed event again
  processors skip <processor|consumer> <aggregate-id>
                                 Skip that event, handle the ones behind it
  processors reset <processor> [--yes]
                                 Start a processor over from the first event

${DELEGATED}

Options:
  -h, --help     Show this help
  --verbose      Show the stack trace of an error`;

function delegatedHelp(usage: string, what: string): string {
  return `Usage: sequent ${usage}

${what}

${DELEGATED}

Options:
  -h, --help     Show this help
  --verbose      Show the stack trace of an error`;
}

/**
 * The help of each command and subcommand, by its words: `"new"`,
 * `"generate aggregate"`, `"db drop"`, …
 *
 * @example
 * ```ts
 * import { HELP } from "./help.ts";
 *
 * console.assert(HELP["db drop"]?.includes("--yes"));
 * ```
 */
export const HELP: Readonly<Record<string, string>> = {
  "new": NEW,
  "generate": GENERATE,
  "generate aggregate": GENERATE_AGGREGATE,
  "generate command": GENERATE_COMMAND,
  "generate event": GENERATE_EVENT,
  "db": DB,
  "db create": delegatedHelp(
    "db create",
    "Creates the app's database and its event store.",
  ),
  "db drop": DB_DROP,
  "db create-event-store": delegatedHelp(
    "db create-event-store",
    "Creates the event store's tables and functions in an existing database.",
  ),
  "db create-view-schema": delegatedHelp(
    "db create-view-schema",
    "Creates the view schema (the projectors' tables) in an existing database.",
  ),
  "migrate": MIGRATE,
  "migrate online": delegatedHelp(
    "migrate online",
    "Builds the new view-schema version next to the live one, replaying events.",
  ),
  "migrate catchup": delegatedHelp(
    "migrate catchup",
    "Replays the events stored since migrate online (or the last catchup) into\nthe new view-schema version's tables while the app runs, so that migrate\noffline has less to do while writers wait.",
  ),
  "migrate offline": delegatedHelp(
    "migrate offline",
    "Catches up with the events stored since migrate online and switches to the\nnew view-schema version. Stop writing events first.",
  ),
  "migrate status": delegatedHelp(
    "migrate status",
    "Shows the current and the configured view-schema version, and each\nprojector's state: active, replaying or inactive.",
  ),
  "snapshots": SNAPSHOTS,
  "snapshots take": SNAPSHOTS_TAKE,
  "snapshots delete-all": delegatedHelp(
    "snapshots delete-all",
    "Deletes all aggregate snapshots.",
  ),
  "browse": delegatedHelp(
    "browse [--port N] [--host H] [--masked]\n       [--nats SERVERS [--stream S] [--prefix P] [--relay NAME]]",
    "Serves the event browser for the app's store until stopped (Ctrl-C):\nsearch events by aggregate, event, command, correlation, type and time;\naggregate, event and command pages; causation trees; an aggregate's state\nat any event; the processors. Read-only. On 127.0.0.1:8001 unless --host\nor --port say otherwise; --masked shows payloads' keys without their values.\n--nats adds the outbox page: the outbox relay's partitions against the last\nmessage of each in JetStream (--stream, --prefix and --relay name the relay\nwhen it is not the default SEQUENT_OUTBOX, sequent, outbox); several NATS\nservers are separated by commas.",
  ),
  "processors": PROCESSORS,
  "processors run": delegatedHelp(
    "processors run",
    "Runs the app's asynchronous projectors and workflows until stopped\n(Ctrl-C or SIGTERM), then gives their claims up.",
  ),
  "processors status": delegatedHelp(
    "processors status",
    "Shows each processor's lag, checkpoint, holder and parked aggregates, and\nthe transaction that holds every processor back, if one does.",
  ),
  "processors retry": delegatedHelp(
    "processors retry <processor> <aggregate-id>",
    "Asks the processor to handle the parked aggregate's failed event again.",
  ),
  "processors skip": delegatedHelp(
    "processors skip <processor> <aggregate-id>",
    "Asks the processor to skip the parked aggregate's failed event and handle\nthe events behind it.",
  ),
  "processors reset": delegatedHelp(
    "processors reset <processor> [--yes]",
    "Starts the processor over from the first event; a projector's tables are\nemptied and rebuilt. Asks first unless --yes.",
  ),
};
