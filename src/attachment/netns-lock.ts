// The lock of one netns pin path, in <dataDir>/locks: it serialises, across the attachments of
// one data dir, the two decisions that must never interleave - ADD's "create a pin here, or
// join the one that is here" and teardown's "am I the last record naming this pin, then unpin".
//
// Lock order (never the other way round, or two plugins can wait on each other until their
// timeout): the attachment's key lock first, then this netns lock, then the allocation table
// lock (a leaf, held for milliseconds). Nothing takes a key lock while holding a netns lock.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LockTimeoutError } from '../cni/errors';
import { withLock } from '../state/lock';
import { pathHash } from '../sys/path-hash';
import type { AttachmentContext } from './context';

/** Lock paths this process holds: teardown inside ADD's critical section must not wait on itself. */
const held = new Set<string>();

/**
 * `netns-<hash>.lock`: a fixed-length name whatever the path's length (two paths that collide
 * only share a lock, which serialises a little more), and one a key's lock file name
 * (`<network>+<containerId>+<ifname>.lock`, always with two '+') never is.
 */
export function netnsLockPath(ctx: AttachmentContext, netnsPath: string): string {
  // Callers hold the attachment's key lock, which created the private locks directory.
  return join(ctx.store.locksDir, `netns-${pathHash(netnsPath)}.lock`);
}

/** Runs `fn` holding the lock of `netnsPath` (re-entrant within this process). */
export async function withNetnsLock<T>(ctx: AttachmentContext, netnsPath: string, fn: () => Promise<T> | T): Promise<T> {
  const path = netnsLockPath(ctx, netnsPath);
  if (held.has(path)) return fn();
  try {
    // On a read-only data dir no ADD can journal a record, so none can be creating or joining
    // this netns: a teardown there decides unlocked (see unlockedIfReadOnly).
    return await withLock(path, { timeoutMs: ctx.inv.conf.lockTimeoutMs, unlockedIfReadOnly: true }, async (lock) => {
      held.add(path);
      try {
        return await fn();
      } finally {
        held.delete(path);
        // Always safe (acquirers check the inode they locked is still at the path) and leaves
        // no lock file behind once the last holder is gone.
        lock.removeOnRelease();
      }
    });
  } catch (err) {
    if (err instanceof LockTimeoutError && err.path === path) throw err.because(`another attachment is creating, joining or releasing netns ${netnsPath}`);
    throw err;
  }
}

const NETNS_LOCK = /^netns-[0-9a-f]{16}\.lock$/;

/**
 * GC: removes netns lock files a plugin killed while holding one left behind - each only once
 * locked by us (one try: a holder is left alone), like removeOnRelease. Returns how many went.
 */
export async function sweepNetnsLocks(locksDir: string): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(locksDir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names.filter((n) => NETNS_LOCK.test(n))) {
    try {
      await withLock(join(locksDir, name), { timeoutMs: 0 }, (lock) => {
        lock.removeOnRelease();
        removed++;
      });
    } catch {
      // held right now (its holder removes it) or gone meanwhile
    }
  }
  return removed;
}
