// An in-memory AllocatorRecords (src/idmap/records-port.ts), as host-local's allocator tests
// have a fake store: records are what the test says they are, locks are a set of keys, and
// every question the allocator asks is counted.
import { keyId, mappingRanges } from '../../../src/idmap/allocation-file';
import type { AllocatorRecords } from '../../../src/idmap/records-port';
import type { RecordHolds } from '../../../src/idmap/record-holds';
import type { AllocationRef } from '../../../src/generated/types';
import type { LockHandle } from '../../../src/state/lock';
import type { AttachmentKey } from '../../../src/state/names';

type FakeRecord = { key: AttachmentKey; allocation: AllocationRef } | { key: AttachmentKey; explicit: { hostID: number; size: number } } | { key: AttachmentKey; corrupt: true; allocation?: AllocationRef };

export class FakeRecords implements AllocatorRecords {
  private readonly records = new Map<string, FakeRecord>();
  private readonly locked = new Set<string>();
  /** How often each question was asked. */
  readonly calls = { holds: 0, keys: 0, hasRecord: 0, whenUnlocked: 0 };
  /** Keys whose lock file the allocator let go (removeOnRelease). */
  readonly locksRemoved: string[] = [];

  withBlock(key: AttachmentKey, allocation: AllocationRef): this {
    this.records.set(keyId(key), { key, allocation });
    return this;
  }

  withExplicit(key: AttachmentKey, hostID: number, size: number): this {
    this.records.set(keyId(key), { key, explicit: { hostID, size } });
    return this;
  }

  /** A record that cannot be read; `allocation` is what its text still names, if anything. */
  withCorrupt(key: AttachmentKey, allocation?: AllocationRef): this {
    this.records.set(keyId(key), { key, corrupt: true, ...(allocation ? { allocation } : {}) });
    return this;
  }

  remove(key: AttachmentKey): void {
    this.records.delete(keyId(key));
  }

  /** Holds `key`'s lock while `fn` runs, as an ADD or DEL in flight does. */
  async whileLocked<T>(key: AttachmentKey, fn: () => Promise<T>): Promise<T> {
    this.locked.add(keyId(key));
    try {
      return await fn();
    } finally {
      this.locked.delete(keyId(key));
    }
  }

  holds(): RecordHolds {
    this.calls.holds++;
    const out: RecordHolds = { keys: new Set(), blocks: [], explicit: [], corrupt: [] };
    for (const r of this.records.values()) {
      out.keys.add(keyId(r.key));
      if ('corrupt' in r) out.corrupt.push(`${keyId(r.key)}: fake corruption`);
      if ('allocation' in r && r.allocation) out.blocks.push({ ...r.key, ...r.allocation });
      if ('explicit' in r) {
        const range = { containerID: 0, ...r.explicit };
        out.explicit.push({ key: r.key, ranges: mappingRanges({ uidMappings: [range], gidMappings: [range] }) });
      }
    }
    return out;
  }

  keys(): AttachmentKey[] {
    this.calls.keys++;
    return [...this.records.values()].map((r) => r.key);
  }

  hasRecord(key: AttachmentKey): boolean {
    this.calls.hasRecord++;
    return this.records.has(keyId(key));
  }

  async whenUnlocked(key: AttachmentKey, fn: (lock: LockHandle) => void): Promise<boolean> {
    this.calls.whenUnlocked++;
    const id = keyId(key);
    if (this.locked.has(id)) return false;
    this.locked.add(id);
    let remove = false;
    try {
      fn({ path: `fake:${id}`, removeOnRelease: () => void (remove = true) });
    } finally {
      this.locked.delete(id);
      if (remove) this.locksRemoved.push(id);
    }
    return true;
  }
}
