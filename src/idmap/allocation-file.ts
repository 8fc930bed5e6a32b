// <dataDir>/allocations.json: which host ids each attachment holds - the allocator's blocks
// and the host ranges of explicit mappings. It is the authority ADD, DEL and CHECK consult:
// they never read other attachments' records. Written with writeFileAtomic (temp, fsync,
// rename, fsync dir) under <dataDir>/allocations.lock, so a crash leaves the old table or
// the new one. Anything unreadable is reported as damaged and rebuilt by the caller from
// the records, never trusted half-way.
//
// Version 2, compact rows because every ADD and DEL parses and rewrites the whole file under
// the lock (5000 entries with 64-character container ids: ~0.8 MB; objects with named keys
// were twice the bytes and the time):
//   {"version":2,
//    "blocks":  [[network, containerId, ifname, pool, hostID, size, atUnixSeconds], ...],
//    "explicit":[[network, containerId, ifname, [hostID, size, hostID, size, ...]], ...]}
// Version 1 ({"version":1,"blocks":[{network, containerId, ifname, pool, hostID, size, at}]})
// had no explicit entries: it is read only as a `legacy` source of blocks for the rebuild that
// upgrades it, since it cannot say which explicit ranges are live.
import { join } from 'node:path';
import { readFileNoFollow, writeFileAtomic } from '../state/atomic-file';
import type { AttachmentKey } from '../state/names';
import type { Span } from './ranges';

export const TABLE_FILE = 'allocations.json';
export const TABLE_LOCK = 'allocations.lock';
export const TABLE_VERSION = 2;

export interface BlockEntry extends AttachmentKey {
  pool: string;
  hostID: number;
  size: number;
  /** When it was handed out (Unix seconds), for operators. */
  at: number;
}

/**
 * The host ranges of an attachment's explicit mapping, uid and gid maps together, as flat
 * [hostID, size, hostID, size, ...].
 */
export interface ExplicitEntry extends AttachmentKey {
  ranges: number[];
}

// In memory the table stays in its on-disk row form: a fresh plugin process runs this code
// cold (interpreted), and decoding 5000 rows into objects and back cost ~45 ms per ADD where
// JSON.parse and JSON.stringify of the rows take ~2 ms each.
/** [network, containerId, ifname, pool, hostID, size, atUnixSeconds] */
export type BlockRow = [string, string, string, string, number, number, number];
/** [network, containerId, ifname, [hostID, size, ...]] */
export type ExplicitRow = [string, string, string, number[]];

export interface AllocationTable {
  /** Sorted by hostID (the allocator inserts in order). */
  blocks: BlockRow[];
  explicit: ExplicitRow[];
}

export type TableRead =
  | { table: AllocationTable; problem?: undefined; legacy?: undefined }
  /** `legacy`: the blocks of a readable version-1 table, to merge into the rebuild. */
  | { table?: undefined; problem: string; legacy?: BlockRow[] };

export function emptyTable(): AllocationTable {
  return { blocks: [], explicit: [] };
}

export function keyId(k: AttachmentKey): string {
  return JSON.stringify([k.network, k.containerId, k.ifname]);
}

export const sameKey = (a: AttachmentKey, b: AttachmentKey): boolean => a.network === b.network && a.containerId === b.containerId && a.ifname === b.ifname;

/** Is this row (block or explicit) the attachment `k`'s? */
export const rowIs = (r: BlockRow | ExplicitRow, k: AttachmentKey): boolean => r[0] === k.network && r[1] === k.containerId && r[2] === k.ifname;

export const rowKey = (r: BlockRow | ExplicitRow): AttachmentKey => ({ network: r[0], containerId: r[1], ifname: r[2] });

export function blockRow(e: BlockEntry): BlockRow {
  return [e.network, e.containerId, e.ifname, e.pool, e.hostID, e.size, e.at];
}

export function blockEntry(r: BlockRow): BlockEntry {
  return { network: r[0], containerId: r[1], ifname: r[2], pool: r[3], hostID: r[4], size: r[5], at: r[6] };
}

export function explicitEntry(r: ExplicitRow): ExplicitEntry {
  return { network: r[0], containerId: r[1], ifname: r[2], ranges: r[3] };
}

/** `rows` without those `drop` matches (a plain loop: this runs cold over thousands of rows). */
export function withoutRows<R>(rows: R[], drop: (r: R) => boolean): R[] {
  const out: R[] = [];
  for (let i = 0; i < rows.length; i++) if (!drop(rows[i]!)) out.push(rows[i]!);
  return out;
}

const isId = (v: unknown): v is number => typeof v === 'number' && v >= 0 && v < 0x1_0000_0000 && v % 1 === 0;

// Plain loops with the checks written out: these run cold over every row on every ADD and DEL.
function badBlocks(rows: unknown[]): number {
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as unknown[];
    if (!Array.isArray(r) || r.length !== 7) return i;
    const [n, c, f, p, h, z, at] = r;
    if (typeof n !== 'string' || n === '' || typeof c !== 'string' || c === '' || typeof f !== 'string' || f === '' || typeof p !== 'string') return i;
    if (typeof h !== 'number' || !(h >= 0 && h < 0x1_0000_0000) || h % 1 !== 0) return i;
    if (typeof z !== 'number' || !(z > 0 && z < 0x1_0000_0000) || z % 1 !== 0 || typeof at !== 'number') return i;
  }
  return -1;
}

function badExplicit(rows: unknown[]): number {
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as unknown[];
    if (!Array.isArray(r) || r.length !== 4) return i;
    const [n, c, f, ranges] = r as [unknown, unknown, unknown, unknown[]];
    if (typeof n !== 'string' || n === '' || typeof c !== 'string' || c === '' || typeof f !== 'string' || f === '') return i;
    if (!Array.isArray(ranges) || ranges.length % 2 !== 0) return i;
    for (let j = 0; j < ranges.length; j++) {
      const v = ranges[j];
      if (typeof v !== 'number' || !(v >= j % 2 && v < 0x1_0000_0000) || v % 1 !== 0) return i; // sizes (odd j) > 0
    }
  }
  return -1;
}

function legacyRow(x: unknown): BlockRow | undefined {
  if (x === null || typeof x !== 'object') return undefined;
  const e = x as Record<string, unknown>;
  const str = (v: unknown): v is string => typeof v === 'string' && v !== '';
  if (!str(e.network) || !str(e.containerId) || !str(e.ifname) || typeof e.pool !== 'string' || !isId(e.hostID) || !isId(e.size) || e.size === 0) return undefined;
  const at = typeof e.at === 'string' ? Math.floor(Date.parse(e.at) / 1000) : NaN;
  return [e.network, e.containerId, e.ifname, e.pool, e.hostID, e.size, Number.isFinite(at) ? at : 0];
}

/** Flat [hostID, size, ...] ranges as spans. */
export function rangeSpans(ranges: readonly number[]): Span[] {
  const out: Span[] = [];
  for (let i = 0; i < ranges.length; i += 2) out.push({ start: ranges[i]!, end: ranges[i]! + ranges[i + 1]! });
  return out;
}

/** The host ranges of a mapping, uid and gid maps together, each distinct range once. */
export function mappingRanges(m: { uidMappings: Array<{ hostID: number; size: number }>; gidMappings?: Array<{ hostID: number; size: number }> }): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  for (const r of [...m.uidMappings, ...(m.gidMappings ?? [])]) {
    const k = `${r.hostID}+${r.size}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(r.hostID, r.size);
  }
  return out;
}

export function parseTable(text: string): TableRead {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { problem: `not valid JSON (${(err as Error).message})` };
  }
  const t = doc as { version?: unknown; blocks?: unknown; explicit?: unknown } | null;
  if (t === null || typeof t !== 'object') return { problem: 'not an allocation table' };
  if (t.version === 1) {
    if (!Array.isArray(t.blocks)) return { problem: 'version 1 table without a blocks array' };
    const legacy: BlockRow[] = [];
    for (const [i, b] of t.blocks.entries()) {
      const r = legacyRow(b);
      if (!r) return { problem: `version 1 table, blocks[${i}] is malformed` };
      legacy.push(r);
    }
    return { problem: 'version 1 (no explicit mappings): upgraded', legacy };
  }
  if (t.version !== TABLE_VERSION) return { problem: `not an allocation table of version 1 or ${TABLE_VERSION} (version ${JSON.stringify(t.version)})` };
  if (!Array.isArray(t.blocks)) return { problem: 'no blocks array' };
  if (!Array.isArray(t.explicit)) return { problem: 'no explicit array' };
  const b = badBlocks(t.blocks);
  if (b >= 0) return { problem: `blocks[${b}] is malformed` };
  const x = badExplicit(t.explicit);
  if (x >= 0) return { problem: `explicit[${x}] is malformed` };
  return { table: { blocks: t.blocks as BlockRow[], explicit: t.explicit as ExplicitRow[] } };
}

/** Reads the table; `problem` says why it is missing or cannot be used as it is. */
export function readTable(dataDir: string): TableRead {
  let buf: Buffer | undefined;
  try {
    buf = readFileNoFollow(join(dataDir, TABLE_FILE));
  } catch (err) {
    return { problem: (err as Error).message }; // a symlink or FIFO planted there: rebuild over it
  }
  if (buf === undefined) return { problem: 'missing' };
  return parseTable(buf.toString('utf8'));
}

export function formatTable(table: AllocationTable): string {
  return `${JSON.stringify({ version: TABLE_VERSION, blocks: table.blocks, explicit: table.explicit })}\n`;
}

export function writeTable(dataDir: string, table: AllocationTable): void {
  writeFileAtomic(dataDir, TABLE_FILE, formatTable(table));
}
