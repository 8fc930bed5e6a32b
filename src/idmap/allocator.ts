// The id allocator: one block per created user namespace, lowest free first, recorded in
// <dataDir>/allocations.json under <dataDir>/allocations.lock. The lock is held only for
// the table update (milliseconds), never while namespaces are made or delegates run.
//
// Crash safety, in order of events on ADD:
//   1. table updated (this block -> this attachment), durably;
//   2. the record is saved with `allocation` (add.ts, right after resolveMapping);
//   3. namespaces are created.
// Killed after 1 and before 2: the table holds a block for an attachment with no record.
// A retried ADD gets the same block back; otherwise the next allocation drops it once it
// can take that attachment's lock (no ADD in flight) and still finds no record.
// On teardown the block is released before the record is deleted; killed in between, the
// record still names it and every allocation re-reads the records, so it is not reused
// until the next DEL or GC finishes.
import { join } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import type { AllocatorConfig } from '../config/netconf';
import type { AttachmentRecord, AllocationRef } from '../generated/types';
import type { Logger } from '../log/logger';
import { ensurePrivateDir } from '../state/atomic-file';
import { withLock } from '../state/lock';
import type { AttachmentKey } from '../state/names';
import type { RecordStore } from '../state/record-store';
import { TABLE_LOCK, readTable, writeTable, type AllocationTable, type BlockEntry } from './allocation-file';
import type { Pool } from './pool';
import { lowestFreeBlock, type Span } from './ranges';
import { keyId, recordHolds, showKey, type RecordHolds } from './record-holds';

export interface AllocatorEnv {
  dataDir: string;
  lockTimeoutMs: number;
  store: RecordStore<AttachmentRecord>;
  log: Logger;
}

/** Runs `fn` under the table lock; a timeout is code 11 naming the lock. */
export async function underTableLock<T>(env: AllocatorEnv, fn: () => Promise<T> | T): Promise<T> {
  ensurePrivateDir(env.dataDir);
  const lockPath = join(env.dataDir, TABLE_LOCK);
  try {
    return await withLock(lockPath, { timeoutMs: env.lockTimeoutMs }, fn);
  } catch (err) {
    if (err instanceof CniError && err.code === ErrorCode.TryAgainLater && err.message.includes(lockPath)) {
      throw new CniError(ErrorCode.TryAgainLater, `allocator: ${err.message.replace(/; another operation.*$/, '')}; the id allocation table is busy, try again`, { cause: err });
    }
    throw err;
  }
}

/** The table as stored, or rebuilt from the records (with a warning) when missing or damaged. */
function loadTable(env: AllocatorEnv, holds: () => RecordHolds): { table: AllocationTable; rebuilt: boolean } {
  const read = readTable(env.dataDir);
  if (read.table) return { table: read.table, rebuilt: false };
  const h = holds();
  const now = new Date().toISOString();
  const table: AllocationTable = { version: 1, blocks: h.blocks.map((b) => ({ ...b, at: now })) };
  // A missing table with nothing to rebuild is just the first use of this data dir.
  if (read.problem !== 'missing' || table.blocks.length > 0) {
    env.log.error('allocations-rebuilt', {
      warning: `allocation table ${join(env.dataDir, 'allocations.json')} ${read.problem}: rebuilt from ${h.keys.size} records`,
      blocks: table.blocks.length,
      corruptRecords: h.corrupt,
    });
  }
  return { table, rebuilt: true };
}

const sameKey = (a: AttachmentKey, b: AttachmentKey) => a.network === b.network && a.containerId === b.containerId && a.ifname === b.ifname;

/** Table entries whose attachment has no record, no ADD in flight and still no record once locked. */
async function dropOrphans(env: AllocatorEnv, table: AllocationTable, holds: RecordHolds, self: AttachmentKey): Promise<number> {
  let dropped = 0;
  for (const e of [...table.blocks]) {
    if (sameKey(e, self) || holds.keys.has(keyId(e))) continue;
    try {
      // timeoutMs 0: one try. An ADD or DEL holding it may be waiting for our table lock.
      await withLock(env.store.lockFor(e), { timeoutMs: 0 }, (lock) => {
        if (env.store.get(e) !== undefined) return;
        table.blocks.splice(table.blocks.indexOf(e), 1);
        lock.removeOnRelease();
        dropped++;
        env.log.error('allocation-orphan-dropped', { warning: `block ${e.hostID}+${e.size} of ${showKey(e)} had no record (interrupted ADD): released` });
      });
    } catch (err) {
      if (!(err instanceof CniError && err.code === ErrorCode.TryAgainLater)) throw err;
    }
  }
  return dropped;
}

/** Blocks a record names that the table lost: put back (see the crash notes above). */
function restoreFromRecords(env: AllocatorEnv, table: AllocationTable, holds: RecordHolds): number {
  let restored = 0;
  for (const b of holds.blocks) {
    if (table.blocks.some((e) => sameKey(e, b) && e.hostID === b.hostID)) continue;
    table.blocks.push({ network: b.network, containerId: b.containerId, ifname: b.ifname, pool: b.pool, hostID: b.hostID, size: b.size, at: new Date().toISOString() });
    restored++;
    env.log.error('allocation-restored', { warning: `record of ${showKey(b)} names block ${b.hostID}+${b.size} missing from the table: kept reserved` });
  }
  return restored;
}

export interface Allocation extends AllocationRef {
  reused: boolean;
}

/** Hands `key` the lowest free block of `pool` and records it durably before returning. */
export async function allocateBlock(env: AllocatorEnv, key: AttachmentKey, pool: Pool): Promise<Allocation> {
  return underTableLock(env, async () => {
    const held = env.log.step('allocation-table-locked'); // how long others wait on us
    try {
      return await allocateLocked(env, key, pool);
    } finally {
      held();
    }
  });
}

async function allocateLocked(env: AllocatorEnv, key: AttachmentKey, pool: Pool): Promise<Allocation> {
  {
    const holds = recordHolds(env.store);
    const { table, rebuilt } = loadTable(env, () => holds);
    let changed = rebuilt;
    changed = restoreFromRecords(env, table, holds) > 0 || changed;

    // A retried ADD (killed before its record was saved) gets its block back.
    const own = table.blocks.find((e) => sameKey(e, key));
    if (own && own.size === pool.blockSize && fitsPool(own, pool)) {
      if (changed) writeTable(env.dataDir, table);
      return { pool: pool.id, hostID: own.hostID, size: own.size, reused: true };
    }
    if (own) table.blocks.splice(table.blocks.indexOf(own), 1); // config changed since: take a new one

    let hostID = lowestFreeBlock(pool.spans, taken(table, holds, key), pool.blockSize);
    // Orphans (a plugin killed mid-ADD) are rare, and every ADD in flight looks like one for
    // a moment: only when the pool is full is it worth a lock attempt per entry.
    if (hostID === undefined && (await dropOrphans(env, table, holds, key)) > 0) {
      changed = true;
      hostID = lowestFreeBlock(pool.spans, taken(table, holds, key), pool.blockSize);
    }
    if (hostID === undefined) {
      if (changed) writeTable(env.dataDir, table);
      throw new CniError(
        ErrorCode.PoolExhausted,
        `allocator: ${pool.description} is exhausted: all ${pool.blocks} blocks of ${pool.blockSize} ids (${pool.blocks * pool.blockSize} ids) are in use`,
        { details: 'DEL unused attachments, or enlarge the pool (allocator.count/size, or the subidOwner entries)' },
      );
    }
    const entry: BlockEntry = { ...key, pool: pool.id, hostID, size: pool.blockSize, at: new Date().toISOString() };
    table.blocks.push(entry);
    writeTable(env.dataDir, table);
    return { pool: pool.id, hostID, size: pool.blockSize, reused: false };
  }
}

function fitsPool(e: BlockEntry, pool: Pool): boolean {
  return e.hostID % pool.blockSize === 0 && pool.spans.some((s) => e.hostID >= s.start && e.hostID + e.size <= s.end);
}

/** Everything the allocator must keep clear of: table blocks and other attachments' explicit ranges. */
function taken(table: AllocationTable, holds: RecordHolds, self: AttachmentKey): Span[] {
  return [
    ...table.blocks.filter((e) => !sameKey(e, self)).map((e) => ({ start: e.hostID, end: e.hostID + e.size })),
    ...holds.explicit.filter((x) => !sameKey(x.key, self)).map((x) => x.span),
  ];
}

/** Frees the block `rec` holds. Only that attachment's entry for that block goes. */
export async function releaseBlock(env: AllocatorEnv, rec: AttachmentRecord): Promise<void> {
  const a = rec.allocation;
  if (!a) return;
  const key = { network: rec.network, containerId: rec.containerId, ifname: rec.ifname };
  await underTableLock(env, () => {
    let holds: RecordHolds | undefined;
    const { table, rebuilt } = loadTable(env, () => (holds ??= recordHolds(env.store)));
    const before = table.blocks.length;
    table.blocks = table.blocks.filter((e) => !(sameKey(e, key) && e.hostID === a.hostID));
    if (rebuilt || table.blocks.length !== before) writeTable(env.dataDir, table);
  });
}

/**
 * A record that joins another's namespaces (a shared netns) names their block too: the table
 * gets an entry for it, so the block stays taken, without a "restored" warning, until the last
 * record naming it is released. Durable before the joining record is first saved.
 */
export async function shareBlock(env: AllocatorEnv, key: AttachmentKey, a: AllocationRef): Promise<void> {
  await underTableLock(env, () => {
    const { table, rebuilt } = loadTable(env, () => recordHolds(env.store));
    if (table.blocks.some((e) => sameKey(e, key) && e.hostID === a.hostID)) {
      if (rebuilt) writeTable(env.dataDir, table);
      return;
    }
    table.blocks.push({ ...key, pool: a.pool, hostID: a.hostID, size: a.size, at: new Date().toISOString() });
    writeTable(env.dataDir, table);
  });
}

/**
 * DEL without a record: an ADD killed after taking its block but before its record's first
 * save leaves only the table entry. The caller holds the attachment's lock.
 */
export async function releaseKey(env: AllocatorEnv, key: AttachmentKey): Promise<boolean> {
  const read = readTable(env.dataDir);
  if (!read.table?.blocks.some((e) => sameKey(e, key))) return false; // the common case: no lock
  return underTableLock(env, () => {
    const { table } = loadTable(env, () => recordHolds(env.store));
    const before = table.blocks.length;
    table.blocks = table.blocks.filter((e) => !sameKey(e, key));
    if (table.blocks.length === before) return false;
    writeTable(env.dataDir, table);
    return true;
  });
}

/**
 * GC: drops table entries whose attachment has no record (an ADD killed between the table
 * write and its record's first save). An ADD in flight holds its attachment's lock, so it is
 * never taken for an orphan. Returns how many went.
 */
export async function sweepOrphanAllocations(env: AllocatorEnv): Promise<number> {
  const read = readTable(env.dataDir);
  if (!read.table || read.table.blocks.length === 0) return 0;
  return underTableLock(env, async () => {
    const holds = recordHolds(env.store);
    const { table, rebuilt } = loadTable(env, () => holds);
    const dropped = await dropOrphans(env, table, holds, { network: '', containerId: '', ifname: '' });
    if (rebuilt || dropped > 0) writeTable(env.dataDir, table);
    return dropped;
  });
}

/** Blocks the allocator gave to attachments other than `self`: table plus records, read without the lock. */
export function blocksHeldByOthers(env: AllocatorEnv, self: AttachmentKey): Array<AttachmentKey & { hostID: number; size: number }> {
  const holds = recordHolds(env.store);
  const read = readTable(env.dataDir);
  const all = [...(read.table?.blocks ?? []), ...holds.blocks];
  return all.filter((b) => !sameKey(b, self));
}

export function allocatorEnv(conf: { dataDir: string; lockTimeoutMs: number }, store: RecordStore<AttachmentRecord>, log: Logger): AllocatorEnv {
  return { dataDir: conf.dataDir, lockTimeoutMs: conf.lockTimeoutMs, store, log };
}

export type { AllocatorConfig };
