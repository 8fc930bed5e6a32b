// Reading records for the operator commands and finding the ones a person means: a container
// id, or a netns path (the pin for create mode, /proc/<pid>/ns/net for adopt mode).
import { openStore } from '../attachment/context';
import type { AttachmentRecord } from '../generated/types';
import { isCorrupt, type AttachmentKey } from '../state/record-store';
import { OperatorError } from './fail';

export interface Found {
  key: AttachmentKey;
  record: AttachmentRecord;
}

export interface Loaded {
  records: Found[];
  corrupt: { file: string; error: string }[];
}

export function loadRecords(dataDir: string): Loaded {
  const out: Loaded = { records: [], corrupt: [] };
  for (const e of openStore(dataDir).list()) {
    if (isCorrupt(e.record)) out.corrupt.push({ file: e.record.file, error: e.record.error });
    else out.records.push({ key: e.key, record: e.record });
  }
  return out;
}

function recordsOf(dataDir: string, containerId: string): Found[] {
  const store = openStore(dataDir);
  const out: Found[] = [];
  for (const key of store.keys()) {
    if (key.containerId !== containerId) continue;
    const record = store.get(key);
    if (record !== undefined && !isCorrupt(record)) out.push({ key, record });
  }
  return out;
}

/** Records matching `target`; throws a one-line error when there is none. */
export function findRecords(dataDir: string, target: string): Found[] {
  const byPath = target.startsWith('/');
  // A container id is in the file names: read only its records. A netns path is inside them.
  const records = byPath ? loadRecords(dataDir).records : recordsOf(dataDir, target);
  const hits = records.filter((f) => (byPath ? f.record.netns.path === target : f.record.containerId === target));
  if (hits.length === 0) {
    throw new OperatorError(`no attachment with ${byPath ? 'netns path' : 'container id'} ${JSON.stringify(target)} in ${dataDir} (records live in the network config's "dataDir"; see --data-dir)`);
  }
  return hits;
}

/** Exactly one attachment (oci and exec act on one netns). */
export function findOne(dataDir: string, target: string): Found {
  const hits = findRecords(dataDir, target);
  if (hits.length > 1) {
    const names = hits.map((h) => `${h.key.network}/${h.key.ifname}`).join(', ');
    throw new OperatorError(`${JSON.stringify(target)} matches ${hits.length} attachments (${names}); give the netns path instead`);
  }
  return hits[0]!;
}
