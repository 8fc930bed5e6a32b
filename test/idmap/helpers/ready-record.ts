// A minimal ready create-mode record for the allocator's tests: what the allocator reads of a
// record (its key, allocation or mappings) and nothing it would act on (no pins, no delegates).
import type { AttachmentRecord } from '../../../src/generated/types';
import type { AttachmentKey } from '../../../src/state/names';

export function readyRecord(k: AttachmentKey, extra: Partial<AttachmentRecord>): AttachmentRecord {
  const now = new Date().toISOString();
  return {
    schemaVersion: 1,
    ...k,
    cniVersion: '1.0.0',
    mode: 'create',
    phase: 'ready',
    bootId: 'b',
    createdAt: now,
    updatedAt: now,
    netns: { path: '/run/netns/x', pin: 'none' },
    userns: { path: '', pin: 'none' },
    delegates: [],
    ...extra,
  };
}
