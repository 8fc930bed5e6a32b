// The allocator's view of the real record store (records-port.ts): the records' holds as
// record-holds.ts reads them, the store's key listing, and the key lock files ADD and DEL take.
import { LockTimeoutError } from '../cni/errors';
import type { AttachmentRecord } from '../generated/types';
import type { Logger } from '../log/logger';
import { withLock } from '../state/lock';
import type { RecordStore } from '../state/record-store';
import type { AllocatorEnv } from './allocator';
import { recordHolds } from './record-holds';
import type { AllocatorRecords } from './records-port';

export function storeRecords(store: RecordStore<AttachmentRecord>): AllocatorRecords {
  return {
    holds: () => recordHolds(store),
    keys: () => store.keys(),
    hasRecord: (key) => store.get(key) !== undefined,
    async whenUnlocked(key, fn) {
      try {
        await withLock(store.lockFor(key), { timeoutMs: 0 }, fn);
        return true;
      } catch (err) {
        // Busy (one try): an ADD or DEL holding it may be waiting for the table lock.
        if (err instanceof LockTimeoutError) return false;
        throw err;
      }
    },
  };
}

export function allocatorEnv(conf: { dataDir: string; lockTimeoutMs: number }, store: RecordStore<AttachmentRecord>, log: Logger): AllocatorEnv {
  return { dataDir: conf.dataDir, lockTimeoutMs: conf.lockTimeoutMs, records: storeRecords(store), log };
}
