// What the allocator needs to know of the attachment records, and nothing more (as host-local's
// allocator works over backend.Store): which ids they hold, which keys have one, and a key's
// lock. The allocator never sees the record store, its file format or the verbs above it;
// store-records.ts adapts the real store, tests pass an in-memory fake.
import type { LockHandle } from '../state/lock';
import type { AttachmentKey } from '../state/names';
import type { RecordHolds } from './record-holds';

export interface AllocatorRecords {
  /** What every record holds, each read once: only to rebuild a table that cannot be used. */
  holds(): RecordHolds;
  /** The keys that have a record, readable or not (names only, no record is read). */
  keys(): AttachmentKey[];
  /** Does `key` have a record (readable or not)? */
  hasRecord(key: AttachmentKey): boolean;
  /**
   * Runs `fn` holding `key`'s attachment lock if it is free right now - one try, since an ADD
   * or DEL holding it may be waiting for the table lock we hold. False when it was busy.
   */
  whenUnlocked(key: AttachmentKey, fn: (lock: LockHandle) => void): Promise<boolean>;
}
