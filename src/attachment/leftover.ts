// What ADD and DEL do with a record left by an interrupted call, or one that cannot be read.
import type { AttachmentRecord } from '../generated/types';
import { type CorruptRecord, isCorrupt } from '../state/record-store';
import { asCniError, combineErrors, type CniError } from '../cni/errors';
import type { AttachmentContext } from './context';
import { prepareDelegate, runDelegate } from './delegate-runner';
import { cleanupHeading, removePin, teardown } from './teardown';
import type { NamespaceRef } from '../generated/types';
import { releaseKey } from '../idmap/allocator';
import { allocatorEnv } from '../idmap/store-records';
import { inspectNamespace } from '../ns';
import { withNetnsLock } from './netns-lock';
import { dropPinHolder, otherPinHolders, ourPinPairAt } from './pin-owners';
import * as journal from './journal';
import { salvageRecord } from './salvage';
import { canonicalNetnsPath } from './netns-target';

/** Rolls back a leftover record (any phase), or releases what a corrupt one may have held. */
export async function clearLeftover(ctx: AttachmentContext, rec: AttachmentRecord | CorruptRecord): Promise<void> {
  if (!isCorrupt(rec)) return teardown(ctx, rec);
  // We cannot trust what it says: release the configured delegates' state without a netns
  // (IPAM frees by container id), remove the pins it names only where they prove to be ours
  // (token or journalled inode), then drop the file.
  ctx.log.error('corrupt-record', { file: rec.file, error: rec.error });
  const errors: CniError[] = [];
  for (const delegate of [...ctx.inv.conf.delegates].reverse()) {
    try {
      await runDelegate(ctx.delegateCall, 'DEL', await prepareDelegate(ctx.delegateCall, delegate), undefined);
    } catch (err) {
      errors.push(asCniError(err));
    }
  }
  try {
    const salvaged = salvageRecord(rec.file);
    await removeSalvagedPins(ctx, salvaged.pins, salvaged.netnsPath);
  } catch (err) {
    errors.push(asCniError(err));
  }
  if (errors.length > 0) throw combineErrors(errors, { heading: cleanupHeading });
  journal.forgetCorrupt(ctx);
  // Its id block, if it had one: the table knows it by key.
  await releaseKey(allocatorEnv(ctx.inv.conf, ctx.store, ctx.log), ctx.key);
}

/**
 * The pins a damaged record still names, removed where they prove to be ours (token or
 * journalled inode) and no other record of this data dir names them. A netns proven ours
 * whose userns reference was lost (a file cut between the two) still takes its owner's pin
 * along: the user namespace pinned beside our netns at <usernsPinDir>/<name> that owns it is
 * the one that ADD created with it.
 */
async function removeSalvagedPins(ctx: AttachmentContext, pins: Array<[NamespaceRef, 'net' | 'user']>, netnsPath?: string): Promise<void> {
  if (pins.length === 0) return;
  const net = pins.find(([, t]) => t === 'net')?.[0];
  // The lock ADD and teardown take for this netns: for an adopted netns (only its owner's pin
  // ours) the netns path as ADD spelled it, canonical.
  const lockPath = net?.path ?? (netnsPath !== undefined ? canonicalNetnsPath(netnsPath) : pins[0]![0].path);
  return withNetnsLock(ctx, lockPath, () => {
    dropPinHolder(
      ctx,
      pins.map(([ref]) => ref.path),
    );
    const holders = pins.flatMap(([ref, type]) => otherPinHolders(ctx, ref, type));
    if (holders.length > 0) return ctx.log.info('pins-kept', { netns: lockPath, heldBy: holders });
    if (net && net.inode !== undefined && !pins.some(([, t]) => t === 'user')) {
      const live = inspectNamespace(net.path);
      const usernsPin = live.inode === net.inode && live.owner ? ourPinPairAt(net.path, live.owner.inode, ctx.inv.conf.usernsPinDir) : undefined;
      if (usernsPin) pins = [...pins, [{ path: usernsPin, inode: live.owner!.inode, pin: 'pinned' }, 'user']];
    }
    const errors: CniError[] = [];
    for (const [ref, type] of pins) {
      try {
        removePin(ref, type);
      } catch (err) {
        errors.push(asCniError(err));
      }
    }
    if (errors.length > 0) throw combineErrors(errors, { heading: cleanupHeading });
  });
}
