// <dataDir>/allocations.json: which host ids each attachment holds - the allocator's blocks
// and the host ranges of explicit mappings. It is the authority ADD, DEL and CHECK consult:
// they never read other attachments' records. Written with writeFileAtomic (temp, fsync,
// rename, fsync dir) under <dataDir>/allocations.lock, so a crash leaves the old table or
// the new one. Anything unreadable is reported as damaged and rebuilt by the caller from
// the records, never trusted half-way.
//
// Version 2, compact rows because every ADD and DEL parses and rewrites the whole file under
// the lock (5000 entries: ~0.7 MB, parse + write ~10 ms; objects with named keys were twice
// that):
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
 * [hostID, size, hostID, size, ...] (kept flat: thousands are parsed and written per ADD).
 */
export interface ExplicitEntry extends AttachmentKey {
  ranges: number[];
}

export interface AllocationTable {
  blocks: BlockEntry[];
  explicit: ExplicitEntry[];
}

export type TableRead =
  | { table: AllocationTable; problem?: undefined; legacy?: undefined }
  /** `legacy`: the blocks of a readable version-1 table, to merge into the rebuild. */
  | { table?: undefined; problem: string; legacy?: BlockEntry[] };

export function emptyTable(): AllocationTable {
  return { blocks: [], explicit: [] };
}

export function keyId(k: AttachmentKey): string {
  return JSON.stringify([k.network, k.containerId, k.ifname]);
}

export const sameKey = (a: AttachmentKey, b: AttachmentKey): boolean =>
  a.network === b.network && a.containerId === b.containerId && a.ifname === b.ifname;

const isStr = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 0x1_0000_0000;
const isSize = (v: unknown): v is number => isId(v) && v > 0;

function blockRow(r: unknown): BlockEntry | undefined {
  if (!Array.isArray(r) || r.length !== 7) return undefined;
  const [network, containerId, ifname, pool, hostID, size, at] = r as unknown[];
  if (!isStr(network) || !isStr(containerId) || !isStr(ifname) || typeof pool !== 'string' || !isId(hostID) || !isSize(size) || typeof at !== 'number') return undefined;
  return { network, containerId, ifname, pool, hostID, size, at };
}

function explicitRow(r: unknown): ExplicitEntry | undefined {
  if (!Array.isArray(r) || r.length !== 4) return undefined;
  const [network, containerId, ifname, ranges] = r as unknown[];
  if (!isStr(network) || !isStr(containerId) || !isStr(ifname) || !Array.isArray(ranges) || ranges.length % 2 !== 0) return undefined;
  for (let i = 0; i < ranges.length; i += 2) if (!isId(ranges[i]) || !isSize(ranges[i + 1])) return undefined;
  return { network, containerId, ifname, ranges: ranges as number[] };
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

function legacyEntry(x: unknown): BlockEntry | undefined {
  if (x === null || typeof x !== 'object') return undefined;
  const e = x as Record<string, unknown>;
  if (!isStr(e.network) || !isStr(e.containerId) || !isStr(e.ifname) || typeof e.pool !== 'string' || !isId(e.hostID) || !isSize(e.size)) return undefined;
  const at = typeof e.at === 'string' ? Math.floor(Date.parse(e.at) / 1000) : NaN;
  return { network: e.network, containerId: e.containerId, ifname: e.ifname, pool: e.pool, hostID: e.hostID, size: e.size, at: Number.isFinite(at) ? at : 0 };
}

function rows<T>(list: unknown, decode: (r: unknown) => T | undefined, what: string): T[] | string {
  if (!Array.isArray(list)) return `no ${what} array`;
  const out: T[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const e = decode(list[i]);
    if (!e) return `${what}[${i}] is malformed`;
    out[i] = e;
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
    const legacy = rows(t.blocks, legacyEntry, 'blocks');
    if (typeof legacy === 'string') return { problem: `version 1 table, ${legacy}` };
    return { problem: 'version 1 (no explicit mappings): upgraded', legacy };
  }
  if (t.version !== TABLE_VERSION) return { problem: `not an allocation table of version 1 or ${TABLE_VERSION} (version ${JSON.stringify(t.version)})` };
  const blocks = rows(t.blocks, blockRow, 'blocks');
  if (typeof blocks === 'string') return { problem: blocks };
  const explicit = rows(t.explicit, explicitRow, 'explicit');
  if (typeof explicit === 'string') return { problem: explicit };
  return { table: { blocks, explicit } };
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
  const blocks = [...table.blocks].sort((a, b) => a.hostID - b.hostID).map((b) => [b.network, b.containerId, b.ifname, b.pool, b.hostID, b.size, b.at]);
  const explicit = table.explicit.map((x) => [x.network, x.containerId, x.ifname, x.ranges]);
  return `${JSON.stringify({ version: TABLE_VERSION, blocks, explicit })}\n`;
}

export function writeTable(dataDir: string, table: AllocationTable): void {
  writeFileAtomic(dataDir, TABLE_FILE, formatTable(table));
}
