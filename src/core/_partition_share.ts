/**
 * A member's turn at sharing a partitioned processor's partitions, as the
 * processor runner and the outbox relay both take it: renew its entry,
 * give up the partitions that are no longer its share, claim (or renew)
 * those that are, and say when to do it again.
 *
 * @module
 */
import { assignedPartitions } from "./_partition_assignment.ts";
import type { Lease, ProcessorStore } from "./processor_store.ts";

/** What a turn found. */
export interface Share {
  /** The claim on the partitions held now (maybe none). */
  readonly lease: Lease;
  /** The store's partition count. */
  readonly partitions: number;
  /**
   * In how many milliseconds to take the next turn: half the claim's time;
   * sooner when another member's entry lapses first (if it died, its
   * partitions are free then), and soon while part of the share is still
   * held by another member (which gives it up at its next turn).
   */
  readonly renewInMs: number;
}

/**
 * Takes a member's turn.
 *
 * @param store Where the claims are kept.
 * @param name The processor.
 * @param owner The member.
 * @param leaseMs How long entries and claims last unless renewed.
 * @param held The claim held until now, if any.
 * @returns The new claim, the partition count and when to renew.
 */
export async function takeShare(
  store: ProcessorStore,
  name: string,
  owner: string,
  leaseMs: number,
  held: Lease | undefined,
): Promise<Share> {
  const membership = await store.join(name, owner, leaseMs);
  const wanted = assignedPartitions(
    membership.members,
    membership.partitions,
    owner,
  );
  const share = new Set(wanted);
  const surplus = (held?.partitions ?? []).filter((c) =>
    !share.has(c.partition)
  );
  if (held && surplus.length > 0) {
    await store.release(name, { ...held, partitions: surplus });
  }
  const lease = await store.claimPartitions(name, owner, wanted, leaseMs);
  const got = lease.partitions?.length ?? 0;
  return {
    lease,
    partitions: membership.partitions,
    renewInMs: Math.min(
      leaseMs / 2,
      membership.nextLapseMs === undefined
        ? Infinity
        : membership.nextLapseMs + 10,
      got < wanted.length ? leaseMs / 10 : Infinity,
    ),
  };
}
