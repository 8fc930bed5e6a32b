// The one DEL path, used by DEL, by ADD's rollback and by GC: it works from the record alone.
// Delegates first (reverse order), then our pins, then the record - last, and only when
// everything before it succeeded, so a failed teardown can be finished by the next DEL or GC.
import { type CniError, asCniError, combineErrors } from '../cni/errors';
import type { AttachmentRecord, NamespaceRef } from '../generated/types';
import { inspectNamespace, isLiveNetnsPin, unpin } from '../ns';
import { fileHoldsToken, removeReservationTemp } from '../ns/pins';
import { currentBootId } from '../state/boot-id';
import { type AttachmentContext, chainResult } from './context';
import { delegateNetnsOf, prevResultFor, runDelegate } from './delegate-runner';
import { releaseAllocation } from './release-ids';
import * as journal from './journal';
import { withNetnsLock } from './netns-lock';
import { canonicalNetnsPath } from './netns-target';
import { dropPinHolderOf, otherPinHolders } from './pin-owners';

/**
 * Is the pin at `ref.path` ours to remove? Only with proof: a mount of the namespace inode we
 * journalled before mounting it, or a plain file holding our token (reserved, not yet
 * mounted, or left by a lost mount). Anything else at that path - a pin that another ADD,
 * `ip netns add` or a later boot put there - is left alone.
 */
function pinIsOurs(ref: NamespaceRef, type: 'net' | 'user'): boolean {
  const info = inspectNamespace(ref.path);
  if (!info.exists) return false;
  if (info.isNsfsMount) return info.nsType === type && ref.inode !== undefined && info.inode === ref.inode;
  return ref.token !== undefined && fileHoldsToken(ref.path, ref.token);
}

/** Removes our pin and the temporary name a reservation killed mid-way may have left. */
export function removePin(ref: NamespaceRef, type: 'net' | 'user'): void {
  if (pinIsOurs(ref, type)) unpin(ref.path);
  if (ref.token !== undefined) removeReservationTemp(ref.path, ref.token);
}

/** How a failed cleanup (teardown, a damaged record's release) heads the errors it keeps. */
export const cleanupHeading = (n: number): string | undefined => (n === 1 ? undefined : `${n} cleanup steps failed`);

export interface TeardownOptions {
  /**
   * ADD's rollback knows which delegate's ADD just failed: cleaning up after its own failed
   * ADD is that plugin's job, and its DEL may fail for the same reason its ADD did (an
   * unknown IPAM type fails both forever). Its DEL is still tried; an error is only logged.
   */
  failedDelegate?: number;
  /**
   * ADD's rollback knows how many of the record's delegates it started; the others are in
   * the record only as intents (journalled together up front) and get no DEL from it. Unset
   * (DEL, GC, a retried ADD working from the record alone): every delegate gets its DEL.
   */
  delegatesStarted?: number;
}

/**
 * The chain's result for delegate `d`'s DEL, or none when it cannot be converted to its version
 * (a result recorded before results were checked on ADD): like libcni after a failed ADD, the
 * DEL then goes without prevResult. A DEL must never depend on a conversion.
 */
function givableResult(ctx: AttachmentContext, rec: AttachmentRecord, d: AttachmentRecord['delegates'][number]): Record<string, unknown> | undefined {
  try {
    return prevResultFor(d, chainResult(rec));
  } catch (err) {
    ctx.log.error('prev-result-dropped', { delegate: d.type, error: (err as Error).message });
    return undefined;
  }
}

export async function teardown(ctx: AttachmentContext, rec: AttachmentRecord, opts: TeardownOptions = {}): Promise<void> {
  const errors: CniError[] = [];
  const sameBoot = rec.bootId === currentBootId();
  journal.deleting(ctx, rec);

  // Delegates get the pin only while it is the live netns we recorded; otherwise an empty
  // CNI_NETNS, so that IPAM state is still released (plugins fail on a non-netns path).
  const netnsLive = sameBoot && rec.netns.inode !== undefined && isLiveNetnsPin(rec.netns.path, rec.netns.inode);
  const netns = netnsLive ? delegateNetnsOf(rec) : undefined;
  for (let i = Math.min(rec.delegates.length, opts.delegatesStarted ?? Infinity) - 1; i >= 0; i--) {
    const d = rec.delegates[i]!;
    const end = ctx.log.step('delegate-del');
    try {
      await runDelegate(ctx.delegateCall, 'DEL', d, netns, d.state === 'added' ? givableResult(ctx, rec, d) : undefined);
    } catch (err) {
      if (i === opts.failedDelegate) ctx.log.error('failed-delegate-del', { delegate: d.type, error: (err as Error).message });
      else errors.push(asCniError(err));
    }
    end({ delegate: d.type });
  }

  await journal.delegatesDeleted();

  // Our pins - only pins this record holds (create mode, or a netns it joined), only this
  // boot's (after a reboot the path may hold another attachment's new pin), only when the
  // delegates are done with the netns, and only when no other record of this data dir still
  // names them: a shared netns goes with its last attachment. In adopt mode the netns is the
  // runtime's and only the owner's pin can be ours (adopt-owner.ts): it goes the same way,
  // decided under the lock ADD took for that netns.
  const pinHeld = rec.netns.pin !== 'none' ? 'net' : rec.userns.pin !== 'none' && rec.userns.adopted ? 'user' : undefined;
  if (errors.length === 0 && sameBoot && pinHeld) {
    const end = ctx.log.step('unpin');
    try {
      await withNetnsLock(ctx, pinHeld === 'net' ? rec.netns.path : canonicalNetnsPath(rec.netns.path), () => {
        dropPinHolderOf(ctx, rec); // the delegates are done with the netns: this record lets go
        const holders = otherPinHolders(ctx, pinHeld === 'net' ? rec.netns : rec.userns, pinHeld);
        if (holders.length > 0) return ctx.log.info('pins-kept', { netns: rec.netns.path, heldBy: holders });
        for (const [ref, type] of [
          [rec.netns, 'net'],
          [rec.userns, 'user'],
        ] as const) {
          if (ref.pin === 'none' || ref.path === '') continue;
          try {
            removePin(ref, type);
          } catch (err) {
            errors.push(asCniError(err));
          }
        }
      });
    } catch (err) {
      errors.push(asCniError(err));
    }
    end();
  }

  await journal.unpinned();
  if (errors.length > 0) {
    ctx.log.error('teardown-incomplete', { errors: errors.map((e) => e.message) });
    const first = errors[0]!;
    throw combineErrors(errors, { heading: cleanupHeading, details: `${first.details ? `${first.details}; ` : ''}the record is kept: DEL or GC again to finish` });
  }
  await journal.forget(ctx, rec);
  // The ids last, once no record names them: killed in between, the allocation table keeps an
  // orphan entry (released by DEL, GC or a full pool), never a record whose ids went to another.
  await releaseAllocation(rec, ctx);
}
