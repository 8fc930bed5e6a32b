// The id allocator: one block per created user namespace, lowest free first, recorded in
// <dataDir>/allocations.json (allocation-file.ts) under <dataDir>/allocations.lock. The table
// also holds the host ranges of explicit mappings, so ADD, DEL and CHECK never read another
// attachment's record: their cost does not grow with the number of attachments. The lock is
// held only for one read-modify-write of the table (a few ms at 5000 entries), never while
// records are scanned, namespaces are made or delegates run.
//
// Invariant: every record's ids are in the table (the table is a superset of the records).
//   ADD:      table entry written durably, then the record is saved, then namespaces made.
//   teardown: the record is deleted, then the entry released (attachment/teardown.ts).
// Killed in between, the table holds an entry with no record (an orphan): a retried ADD of
// that attachment gets the same block back, a DEL without record releases it by key, GC
// drops it, and a full pool drops it before answering "exhausted" - each only once it can
// take that attachment's lock (no ADD in flight) and still finds no record.
// The records are seen only through a narrow port (records-port.ts: their holds, which keys
// have one, a key's lock), never as the attachment record store.
// A missing, damaged or version-1 table is rebuilt from the records, each read once: the
// scan runs outside the lock, and is used only if the table is still unusable once locked
// (any holder added meanwhile had to write a valid table first, which we then see).
import { join } from 'node:path';
import { CniError, ErrorCode, LockTimeoutError } from '../cni/errors';
import type { AllocatorConfig } from '../config/netconf';
import type { AttachmentRecord, AllocationRef } from '../generated/types';
import type { IdMappings } from '../ns';
import type { Logger } from '../log/logger';
import { ensurePrivateDir } from '../state/atomic-file';
import { withLock } from '../state/lock';
import type { AttachmentKey } from '../state/names';
import { TABLE_FILE, TABLE_LOCK, blockEntry, keyId, mappingRanges, rangeSpans, readTable, rowIs, rowKey, withoutRows, writeTable, type AllocationTable, type BlockEntry, type BlockRow } from './allocation-file';
import type { Pool } from './pool';
import { lowestFreeBlock, type Span } from './ranges';
import { showKey } from './record-holds';
import type { AllocatorRecords } from './records-port';

export interface AllocatorEnv {
  dataDir: string;
  lockTimeoutMs: number;
  /** The records, through the narrow port (store-records.ts adapts the real store). */
  records: AllocatorRecords;
  log: Logger;
}

/** Runs `fn` under the table lock; a timeout is code 11 naming the lock. */
export async function underTableLock<T>(env: AllocatorEnv, fn: () => Promise<T> | T): Promise<T> {
  ensurePrivateDir(env.dataDir);
  const lockPath = join(env.dataDir, TABLE_LOCK);
  try {
    return await withLock(lockPath, { timeoutMs: env.lockTimeoutMs }, fn);
  } catch (err) {
    if (err instanceof LockTimeoutError && err.path === lockPath) throw err.because('the id allocation table is busy, try again', 'allocator: ');
    throw err;
  }
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const keyOf = (k: AttachmentKey): AttachmentKey => ({ network: k.network, containerId: k.containerId, ifname: k.ifname });

/** The table the records describe, each record read once. Linear. */
export function tableFromRecords(records: AllocatorRecords): { table: AllocationTable; records: number; corrupt: string[] } {
  const h = records.holds();
  const at = nowSeconds();
  const table: AllocationTable = {
    blocks: h.blocks.map((b): BlockRow => [b.network, b.containerId, b.ifname, b.pool, b.hostID, b.size, at]).sort((a, b) => a[4] - b[4]),
    explicit: h.explicit.map((x) => [x.key.network, x.key.containerId, x.key.ifname, x.ranges]),
  };
  return { table, records: h.keys.size, corrupt: h.corrupt };
}

/** `rebuilt` plus the blocks of a version-1 table it lacks (orphans a retried ADD may reuse). Linear. */
export function withLegacyBlocks(rebuilt: AllocationTable, legacy: readonly BlockRow[]): AllocationTable {
  const id = (r: BlockRow) => `${keyId(rowKey(r))}@${r[4]}`;
  const have = new Set(rebuilt.blocks.map(id));
  const extra = legacy.filter((r) => !have.has(id(r)));
  return { blocks: [...rebuilt.blocks, ...extra].sort((a, b) => a[4] - b[4]), explicit: [...rebuilt.explicit] };
}

interface Update<T> {
  value: T;
  changed: boolean;
}

/**
 * One read-modify-write of the table under its lock. `fn` may mutate the table and says
 * whether it did. A table that cannot be used is rebuilt (see the header), then `fn` runs.
 */
export async function updateTable<T>(env: AllocatorEnv, fn: (table: AllocationTable) => Update<T> | Promise<Update<T>>): Promise<T> {
  let scan: ReturnType<typeof tableFromRecords> | undefined;
  for (;;) {
    const out = await underTableLock(env, async () => {
      const held = env.log.step('allocation-table-locked'); // how long others wait on us
      try {
        const read = readTable(env.dataDir);
        let table = read.table;
        if (!table) {
          if (!scan) return undefined; // scan the records outside the lock, then come back
          table = withLegacyBlocks(scan.table, read.legacy ?? []);
          // A missing table with nothing to rebuild is just the first use of this data dir.
          if (read.problem !== 'missing' || table.blocks.length + table.explicit.length > 0) {
            env.log.error('allocations-rebuilt', {
              warning: `allocation table ${join(env.dataDir, TABLE_FILE)} ${read.problem}: rebuilt from ${scan.records} records`,
              blocks: table.blocks.length,
              explicit: table.explicit.length,
              corruptRecords: scan.corrupt,
            });
          }
          const r = await fn(table);
          writeTable(env.dataDir, table);
          return { value: r.value };
        }
        const r = await fn(table);
        if (r.changed) writeTable(env.dataDir, table);
        return { value: r.value };
      } finally {
        held();
      }
    });
    if (out) return out.value;
    scan = tableFromRecords(env.records);
  }
}

export interface Allocation extends AllocationRef {
  reused: boolean;
}

function exhausted(pool: Pool): CniError {
  return new CniError(ErrorCode.PoolExhausted, `allocator: ${pool.description} is exhausted: all ${pool.blocks} blocks of ${pool.blockSize} ids (${pool.blocks * pool.blockSize} ids) are in use`, {
    details: 'DEL unused attachments, or enlarge the pool (allocator.count/size, or the subidOwner entries)',
  });
}

/**
 * STATUS: throws what allocateBlock would (code 104) when the table, as it is now, leaves no
 * free block in `pool`. Read without the lock; an unusable table says nothing (the next
 * update rebuilds it). Conservative: orphans a full pool's ADD would sweep count as taken.
 */
export function checkPoolHasRoom(dataDir: string, pool: Pool): void {
  const read = readTable(dataDir);
  if (!read.table) return;
  const nobody = { network: '', containerId: '', ifname: '' };
  if (lowestFreeBlock(pool.spans, taken(read.table, nobody), pool.blockSize) === undefined) throw exhausted(pool);
}

/** Hands `key` the lowest free block of `pool` and records it durably before returning. */
export async function allocateBlock(env: AllocatorEnv, key: AttachmentKey, pool: Pool): Promise<Allocation> {
  const first = await updateTable(env, (t) => allocateIn(t, key, pool));
  if (first) return first;
  // Orphans (a plugin killed mid-ADD or mid-DEL) are rare, and every ADD in flight looks like
  // one for a moment: only when the pool is full is it worth a sweep.
  if ((await sweepOrphanAllocations(env, key)) > 0) {
    const again = await updateTable(env, (t) => allocateIn(t, key, pool));
    if (again) return again;
  }
  throw exhausted(pool);
}

function allocateIn(t: AllocationTable, key: AttachmentKey, pool: Pool): Update<Allocation | undefined> {
  let changed = false;
  // This attachment now uses the allocator: an explicit entry of an interrupted ADD goes.
  const nx = t.explicit.length;
  t.explicit = withoutRows(t.explicit, (x) => rowIs(x, key));
  changed = t.explicit.length !== nx;
  // A retried ADD (killed before its record was saved) gets its block back.
  const at = t.blocks.findIndex((r) => rowIs(r, key));
  const own = at >= 0 ? t.blocks[at] : undefined;
  if (own && own[5] === pool.blockSize && fitsPool(own, pool)) {
    return { value: { pool: pool.id, hostID: own[4], size: own[5], reused: true }, changed };
  }
  if (own) {
    t.blocks.splice(at, 1); // config changed since: take a new one
    changed = true;
  }
  const hostID = lowestFreeBlock(pool.spans, taken(t, key), pool.blockSize);
  if (hostID === undefined) return { value: undefined, changed };
  let i = t.blocks.length; // keep the rows sorted by hostID
  while (i > 0 && t.blocks[i - 1]![4] > hostID) i--;
  t.blocks.splice(i, 0, [key.network, key.containerId, key.ifname, pool.id, hostID, pool.blockSize, nowSeconds()]);
  return { value: { pool: pool.id, hostID, size: pool.blockSize, reused: false }, changed: true };
}

function fitsPool(r: BlockRow, pool: Pool): boolean {
  return r[4] % pool.blockSize === 0 && pool.spans.some((s) => r[4] >= s.start && r[4] + r[5] <= s.end);
}

/** Everything the allocator must keep clear of: other attachments' blocks and explicit ranges. */
function taken(t: AllocationTable, self: AttachmentKey): Span[] {
  const out: Span[] = [];
  for (const r of t.blocks) if (!rowIs(r, self)) out.push({ start: r[4], end: r[4] + r[5] });
  for (const x of t.explicit) if (!rowIs(x, self)) for (const s of rangeSpans(x[3])) out.push(s);
  return out;
}

/** Blocks the allocator gave to attachments other than `self` that overlap `m`'s host ranges. */
export function blocksOverlapping(t: AllocationTable, self: AttachmentKey, m: IdMappings): BlockEntry[] {
  const spans = rangeSpans(mappingRanges(m));
  const out: BlockEntry[] = [];
  for (const r of t.blocks) {
    if (rowIs(r, self)) continue;
    if (spans.some((s) => s.start < r[4] + r[5] && r[4] < s.end)) out.push(blockEntry(r));
  }
  return out;
}

/**
 * Records `key`'s explicit mapping in the table, so the allocator keeps clear of it. `check`
 * runs first with the blocks other attachments hold (the overlap refusal), under the same
 * lock: an allocation running at the same time is either in the table when we look, or sees
 * our entry.
 */
export async function recordExplicit(env: AllocatorEnv, key: AttachmentKey, m: IdMappings, check?: (held: BlockEntry[]) => void): Promise<void> {
  await updateTable(env, (t) => {
    check?.(blocksOverlapping(t, key, m));
    // A block of an interrupted ADD of this attachment (before the config changed) goes.
    t.blocks = withoutRows(t.blocks, (r) => rowIs(r, key));
    t.explicit = withoutRows(t.explicit, (x) => rowIs(x, key));
    t.explicit.push([key.network, key.containerId, key.ifname, mappingRanges(m)]);
    return { value: undefined, changed: true };
  });
}

/**
 * A record that joins another's namespaces (a shared netns) names their block too: the table
 * gets an entry for it, so the block stays taken until the last record naming it is released.
 * Durable before the joining record is first saved (the table covers every record).
 */
export async function shareBlock(env: AllocatorEnv, key: AttachmentKey, a: AllocationRef): Promise<void> {
  await updateTable(env, (t) => {
    if (t.blocks.some((r) => rowIs(r, key) && r[4] === a.hostID)) return { value: undefined, changed: false };
    let i = t.blocks.length; // keep the rows sorted by hostID
    while (i > 0 && t.blocks[i - 1]![4] > a.hostID) i--;
    t.blocks.splice(i, 0, [key.network, key.containerId, key.ifname, a.pool, a.hostID, a.size, nowSeconds()]);
    return { value: undefined, changed: true };
  });
}

/**
 * Frees what `rec` holds: its block (only that attachment's entry for that block), or the
 * entry of its explicit mapping. Teardown calls it after the record is deleted.
 */
export async function releaseBlock(env: AllocatorEnv, rec: AttachmentRecord): Promise<void> {
  const a = rec.allocation;
  if (!a && !rec.mappings) return; // adopt mode: nothing in the table
  const key = keyOf(rec);
  await updateTable(env, (t) => {
    const [nb, nx] = [t.blocks.length, t.explicit.length];
    if (a) t.blocks = withoutRows(t.blocks, (r) => r[4] === a.hostID && rowIs(r, key));
    else t.explicit = withoutRows(t.explicit, (x) => rowIs(x, key));
    return { value: undefined, changed: t.blocks.length !== nb || t.explicit.length !== nx };
  });
}

/**
 * DEL without a record: an ADD killed after its table entry but before its record's first
 * save, or a teardown killed between deleting the record and releasing. Drops every entry
 * of `key`. The caller holds the attachment's lock.
 */
export async function releaseKey(env: AllocatorEnv, key: AttachmentKey): Promise<boolean> {
  const read = readTable(env.dataDir);
  const mentions = (t: AllocationTable) => t.blocks.some((r) => rowIs(r, key)) || t.explicit.some((x) => rowIs(x, key));
  if (read.table && !mentions(read.table)) return false; // the common case: no lock
  return updateTable(env, (t) => {
    if (!mentions(t)) return { value: false, changed: false };
    t.blocks = withoutRows(t.blocks, (r) => rowIs(r, key));
    t.explicit = withoutRows(t.explicit, (x) => rowIs(x, key));
    return { value: true, changed: true };
  });
}

/**
 * Drops table entries whose attachment has no record (see the header), except `self`'s.
 * The record files are listed (names only) and the table read outside the lock; under it,
 * each suspect is dropped only if its attachment's lock is free (no ADD or DEL in flight)
 * and it still has no record. Returns how many attachments' entries went. Used by GC.
 */
export async function sweepOrphanAllocations(env: AllocatorEnv, self?: AttachmentKey): Promise<number> {
  const read = readTable(env.dataDir);
  if (!read.table) return 0; // unusable: the next update rebuilds it from the records
  const present = new Set(env.records.keys().map(keyId));
  const suspects = new Map<string, AttachmentKey>();
  for (const r of [...read.table.blocks, ...read.table.explicit]) {
    const id = keyId(rowKey(r));
    if (!present.has(id) && !(self && rowIs(r, self))) suspects.set(id, rowKey(r));
  }
  if (suspects.size === 0) return 0;
  return updateTable(env, async (t) => {
    const dropped = new Set<string>();
    for (const [id, k] of suspects) {
      // Busy: an ADD or DEL in flight (perhaps waiting for our table lock) - left alone.
      await env.records.whenUnlocked(k, (lock) => {
        if (env.records.hasRecord(k)) return;
        dropped.add(id);
        lock.removeOnRelease();
      });
    }
    const [nb, nx] = [t.blocks.length, t.explicit.length];
    if (dropped.size > 0) {
      t.blocks = withoutRows(t.blocks, (r) => dropped.has(keyId(rowKey(r))));
      t.explicit = withoutRows(t.explicit, (x) => dropped.has(keyId(rowKey(x))));
    }
    for (const id of dropped) {
      env.log.error('allocation-orphan-dropped', { warning: `ids of ${showKey(suspects.get(id)!)} had no record (interrupted ADD or DEL): released` });
    }
    return { value: dropped.size, changed: t.blocks.length !== nb || t.explicit.length !== nx };
  });
}

export type { AllocatorConfig };
