// What the attachment records say is in use: the allocator's blocks (record.allocation) and
// the host ranges of explicit mappings. Read only to rebuild a missing, damaged or version-1
// allocation table (allocator.ts): every record once, linear in their number. The table is
// kept a superset of the records (ADD writes the table before the record; teardown deletes
// the record before releasing), so otherwise nothing needs the records' view.
import type { AttachmentRecord } from '../generated/types';
import { readFileNoFollow } from '../state/atomic-file';
import { isCorrupt, type RecordStore } from '../state/record-store';
import type { AttachmentKey } from '../state/names';
import { keyId, mappingRanges } from './allocation-file';

export { keyId };

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
  explicit: Array<{ key: AttachmentKey; ranges: number[] }>;
  /** Corrupt records, for the log. */
  corrupt: string[];
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
      out.explicit.push({ key, ranges: mappingRanges(record.mappings) });
    }
  }
  return out;
}
