// What the attachment records say is in use: the allocator's blocks (record.allocation) and
// the host ranges of explicit mappings. The records are the truth the table is checked
// against: a block is never handed out while a record names it, even if the table lost it
// (damaged file, or a crash between releasing the block and deleting the record).
import type { AttachmentRecord } from '../generated/types';
import { readFileNoFollow } from '../state/atomic-file';
import { isCorrupt, type RecordStore } from '../state/record-store';
import type { AttachmentKey } from '../state/names';
import type { Span } from './ranges';

export interface HeldBlock extends AttachmentKey {
  pool: string;
  hostID: number;
  size: number;
}

export interface RecordHolds {
  /** Keys that have a record file, readable or not. */
  keys: Set<string>;
  blocks: HeldBlock[];
  /** Host ranges of explicit mappings (no allocation), per attachment. */
  explicit: Array<{ key: AttachmentKey; span: Span }>;
  /** Corrupt records, for the log. */
  corrupt: string[];
}

export function keyId(k: AttachmentKey): string {
  return JSON.stringify([k.network, k.containerId, k.ifname]);
}

export function showKey(k: AttachmentKey): string {
  return `${k.network}/${k.containerId}/${k.ifname}`;
}

/**
 * A record we cannot parse may still name its block: a truncated file usually keeps the
 * text before the cut. Best effort; the keys of corrupt records stay held regardless.
 */
function salvageAllocation(file: string): { pool: string; hostID: number; size: number } | undefined {
  let text: string;
  try {
    text = readFileNoFollow(file)?.toString('utf8') ?? '';
  } catch {
    return undefined;
  }
  const m = /"allocation"\s*:\s*\{([^{}]*)\}/.exec(text);
  if (!m) return undefined;
  const hostID = /"hostID"\s*:\s*(\d+)/.exec(m[1]!);
  const size = /"size"\s*:\s*(\d+)/.exec(m[1]!);
  const pool = /"pool"\s*:\s*"([^"]*)"/.exec(m[1]!);
  if (!hostID || !size) return undefined;
  return { pool: pool?.[1] ?? '?', hostID: Number(hostID[1]), size: Number(size[1]) };
}

export function recordHolds(store: RecordStore<AttachmentRecord>): RecordHolds {
  const out: RecordHolds = { keys: new Set(), blocks: [], explicit: [], corrupt: [] };
  for (const { key, record } of store.list()) {
    out.keys.add(keyId(key));
    if (isCorrupt(record)) {
      out.corrupt.push(`${record.file}: ${record.error}`);
      const a = salvageAllocation(record.file);
      if (a) out.blocks.push({ ...key, ...a });
      continue;
    }
    if (record.allocation) {
      out.blocks.push({ ...key, ...record.allocation });
    } else if (record.mappings) {
      for (const r of [...record.mappings.uidMappings, ...(record.mappings.gidMappings ?? [])]) {
        out.explicit.push({ key, span: { start: r.hostID, end: r.hostID + r.size } });
      }
    }
  }
  return out;
}
