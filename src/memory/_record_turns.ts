/**
 * Turns over an in-memory record store. A transaction of the in-memory
 * records writes at once and undoes on rollback by putting the old rows
 * back, so two transactions at a time over the same rows would see each
 * other's writes, and one's rollback would undo what the other committed
 * (while the other's work stays recorded as done: an inbox message as
 * handled, a processor's checkpoint as passed). Whatever runs a
 * transaction over a store's records beside others — the in-memory inbox,
 * the in-memory processor store — takes its turn here, per record store,
 * as row locks make them wait on a database.
 *
 * @module
 */

/** The last turn queued over each record store. */
const turns = new WeakMap<object, Promise<unknown>>();

/**
 * Runs `run` once every turn queued before it over `records` has ended
 * (resolved or rejected), and keeps later turns waiting until it ends.
 *
 * A turn must not wait for a later turn over the same records (it would
 * wait forever): its work must not call, and wait for, something that
 * takes a turn over them itself.
 *
 * @param records The record store (the lock's identity).
 * @param run The work.
 * @returns What `run` resolves to, or its rejection.
 */
export function inRecordTurn<T>(
  records: object,
  run: () => Promise<T>,
): Promise<T> {
  const before = turns.get(records) ?? Promise.resolve();
  const turn = before.then(run, run);
  turns.set(records, turn.catch(() => {}));
  return turn;
}
