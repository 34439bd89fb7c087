/**
 * The domain of partitioned_members_kill_test.ts, shared with its member
 * processes: an event with a number, and a partitioned projector that
 * appends each event's number to its aggregate's row (exactly once, in the
 * batch's transaction) and to a log file (at least once: a line is written
 * when the event is handled, whether or not its batch is stored).
 */
import { attrs, column, Event, Projector, table } from "@sequent/core";

/** The event the test writes: the `n`-th of its aggregate. */
export class Members_Counted extends Event.define("Members.Counted", {
  n: attrs.integer().required(),
}) {}

/** Per aggregate, the numbers handled: `"1;2;3;"`. */
export const membersSeqs = table("members_seqs", {
  aggregateId: column.uuid().primaryKey(),
  seqs: column.text(),
});

/**
 * The log file's handle, this member's name, and how long the handler
 * takes per event (set by the member).
 */
export const handledLog: {
  file: Deno.FsFile | undefined;
  member: string;
  delayMs: number;
} = { file: undefined, member: "", delayMs: 0 };

const encoder = new TextEncoder();

/** The projector the members share. */
export class MembersProjector extends Projector {
  static partitioned = true;
  static override readonly manages = [membersSeqs];
  static {
    this.on(Members_Counted, async (p, e) => {
      handledLog.file?.writeSync(
        encoder.encode(`${handledLog.member} ${e.aggregateId} ${e.n}\n`),
      );
      if (handledLog.delayMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, handledLog.delayMs));
      }
      const [row] = await p.findRecords(membersSeqs, {
        aggregateId: e.aggregateId,
      });
      if (row) {
        await p.updateRecord(membersSeqs, row, { seqs: `${row.seqs}${e.n};` });
      } else {
        await p.createRecord(membersSeqs, {
          aggregateId: e.aggregateId,
          seqs: `${e.n};`,
        });
      }
    });
  }
}
