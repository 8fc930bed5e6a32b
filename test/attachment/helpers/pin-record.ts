// A ready create-mode record naming one pin pair, for the pin-holders tests (pin-owners.test.ts,
// pin-holders-damaged.test.ts): netns /run/netns/pod (inode 11), owner /run/userns/pod (22),
// both pinned, this boot, unless told otherwise. Nothing is pinned: the index reads records only.
import type { AttachmentRecord, NamespaceRef } from '../../../src/generated/types';
import { currentBootId } from '../../../src/state/boot-id';
import type { AttachmentKey } from '../../../src/state/names';

export const BOOT = currentBootId();
export const NETNS = '/run/netns/pod';
export const USERNS = '/run/userns/pod';
export const NET_REF: NamespaceRef = { path: NETNS, inode: 11, pin: 'pinned' };
export const USER_REF: NamespaceRef = { path: USERNS, inode: 22, pin: 'pinned' };

export function pinRecord(key: AttachmentKey, over: { netns?: Partial<NamespaceRef>; userns?: Partial<NamespaceRef>; bootId?: string } = {}): AttachmentRecord {
  const now = new Date().toISOString();
  return {
    schemaVersion: 1,
    network: key.network,
    containerId: key.containerId,
    ifname: key.ifname,
    cniVersion: '1.0.0',
    mode: 'create',
    phase: 'ready',
    bootId: over.bootId ?? BOOT,
    createdAt: now,
    updatedAt: now,
    netns: { path: NETNS, inode: 11, pin: 'pinned', token: 'aaaaaaaa', ...over.netns },
    userns: { path: USERNS, inode: 22, pin: 'pinned', token: 'aaaaaaaa', ...over.userns },
    delegates: [],
  };
}
