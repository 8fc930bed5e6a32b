// <dataDir>/allocations.json: which block each attachment holds. Written with
// writeFileAtomic (temp, fsync, rename, fsync dir) under <dataDir>/allocations.lock, so a
// crash leaves the old table or the new one. Anything unreadable is reported as damaged
// and rebuilt by the caller from the records, never trusted half-way.
import { join } from 'node:path';
import { readFileNoFollow, writeFileAtomic } from '../state/atomic-file';
import type { AttachmentKey } from '../state/names';

export const TABLE_FILE = 'allocations.json';
export const TABLE_LOCK = 'allocations.lock';

export interface BlockEntry extends AttachmentKey {
  pool: string;
  hostID: number;
  size: number;
  /** When it was handed out (ISO time), for operators. */
  at: string;
}

export interface AllocationTable {
  version: 1;
  blocks: BlockEntry[];
}

export type TableRead = { table: AllocationTable; problem?: undefined } | { table?: undefined; problem: string };

const isStr = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 0x1_0000_0000;

function isEntry(x: unknown): x is BlockEntry {
  if (x === null || typeof x !== 'object') return false;
  const e = x as Record<string, unknown>;
  return isStr(e.network) && isStr(e.containerId) && isStr(e.ifname) && typeof e.pool === 'string' &&
    isId(e.hostID) && isId(e.size) && (e.size as number) > 0 && typeof e.at === 'string';
}

export function parseTable(text: string): TableRead {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { problem: `not valid JSON (${(err as Error).message})` };
  }
  const t = doc as Partial<AllocationTable> | null;
  if (t === null || typeof t !== 'object' || t.version !== 1 || !Array.isArray(t.blocks)) {
    return { problem: 'not an allocation table (version 1 with a blocks array)' };
  }
  const bad = t.blocks.findIndex((b) => !isEntry(b));
  if (bad >= 0) return { problem: `blocks[${bad}] is not {network, containerId, ifname, pool, hostID, size, at}` };
  return { table: { version: 1, blocks: t.blocks } };
}

/** Reads the table; `problem` says why it is missing or cannot be used. */
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

export function writeTable(dataDir: string, table: AllocationTable): void {
  const blocks = [...table.blocks].sort((a, b) => a.hostID - b.hostID);
  writeFileAtomic(dataDir, TABLE_FILE, `${JSON.stringify({ version: 1, blocks }, null, 1)}\n`);
}
