// The lock of one netns pin path (netns-lock.ts) on its own: one fixed-length lock file per path
// in the data dir's locks dir; held, it keeps every other holder out (a timeout says which netns
// is busy), re-entered by the same process it runs at once, released it leaves no file and no
// trace that would let a later caller in unlocked. GC sweeps only the netns lock files nobody holds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { AttachmentContext } from '../../src/attachment/context';
import { netnsLockPath, sweepNetnsLocks, withNetnsLock } from '../../src/attachment/netns-lock';
import { CniError, ErrorCode, LockTimeoutError } from '../../src/cni/errors';
import { withLock } from '../../src/state/lock';
import { cleanupRoot, ROOT, uniq } from '../helpers/ns-util';

test.after(() => cleanupRoot());

const TIMEOUT_MS = 50;

/** A locks dir of its own and what withNetnsLock reads of a context. */
function context(): AttachmentContext {
  const locksDir = `${ROOT}/locks-${uniq()}`;
  fs.mkdirSync(locksDir, { recursive: true, mode: 0o700 });
  return { store: { locksDir }, inv: { conf: { lockTimeoutMs: TIMEOUT_MS } } } as unknown as AttachmentContext;
}

/** Runs `fn` while someone else (another open file of the lock, as another plugin would) holds the netns lock of `netns`. */
async function whileHeldElsewhere<T>(ctx: AttachmentContext, netns: string, fn: () => Promise<T>): Promise<T> {
  return withLock(netnsLockPath(ctx, netns), { timeoutMs: 1000 }, fn);
}

/** The error withNetnsLock(ctx, netns) fails with while the lock is held elsewhere; fn must not run. */
async function blocked(ctx: AttachmentContext, netns: string): Promise<CniError> {
  let ran = false;
  let err: unknown;
  try {
    await withNetnsLock(ctx, netns, () => {
      ran = true;
    });
  } catch (e) {
    err = e;
  }
  assert.not.ok(ran, 'fn runs only under the lock');
  assert.instance(err, CniError);
  return err as CniError;
}

test('one lock file per netns path: fixed length, in the locks dir, never named like a key lock', () => {
  const ctx = context();
  const locksDir = ctx.store.locksDir;
  const a = netnsLockPath(ctx, '/run/netns/a');
  assert.match(a, new RegExp(`^${locksDir}/netns-[0-9a-f]{16}\\.lock$`));
  assert.is(netnsLockPath(ctx, '/run/netns/a'), a, 'stable');
  assert.is.not(netnsLockPath(ctx, '/run/netns/b'), a);
  assert.is(netnsLockPath(ctx, `/run/netns/${'x'.repeat(4000)}`).length, a.length, 'whatever the path length');
});

test('held by another: fn does not run; the timeout (code 11) names the lock, the holder, and the netns it guards', async () => {
  const ctx = context();
  const netns = `/run/netns/${uniq()}`;
  const err = await whileHeldElsewhere(ctx, netns, () => blocked(ctx, netns));
  assert.instance(err, LockTimeoutError);
  assert.is(err.code, ErrorCode.TryAgainLater);
  assert.is(err.message, `timed out after ${TIMEOUT_MS}ms waiting for lock ${netnsLockPath(ctx, netns)}; another attachment is creating, joining or releasing netns ${netns}`);
  // Another netns's lock is not this one.
  let ran = false;
  await whileHeldElsewhere(ctx, netns, () =>
    withNetnsLock(ctx, `${netns}-other`, () => {
      ran = true;
    }),
  );
  assert.ok(ran);
});

test('re-entered within the process: the inner call runs at once, the lock stays held until the outer one ends', async () => {
  const ctx = context();
  const netns = `/run/netns/${uniq()}`;
  const path = netnsLockPath(ctx, netns);
  const order: string[] = [];
  const out = await withNetnsLock(ctx, netns, async () => {
    order.push('outer');
    const inner = await withNetnsLock(ctx, netns, async () => {
      order.push('inner');
      return 7;
    });
    // Still ours after the inner call: another open file of the lock cannot take it.
    let err: unknown;
    try {
      await withLock(path, { timeoutMs: TIMEOUT_MS }, () => order.push('elsewhere'));
    } catch (e) {
      err = e;
    }
    assert.instance(err, LockTimeoutError, 'the inner release did not unlock the outer hold');
    return inner + 1;
  });
  assert.is(out, 8);
  assert.equal(order, ['outer', 'inner']);
});

test('released (fn returned or threw): no lock file left, and a later call waits for the lock again', async () => {
  const ctx = context();
  const netns = `/run/netns/${uniq()}`;
  const path = netnsLockPath(ctx, netns);
  assert.is(await withNetnsLock(ctx, netns, () => 'done'), 'done');
  assert.not.ok(fs.existsSync(path), 'lock file removed on release');
  const boom = new Error('boom');
  let err: unknown;
  try {
    await withNetnsLock(ctx, netns, () => {
      throw boom;
    });
  } catch (e) {
    err = e;
  }
  assert.is(err, boom, "fn's error passes through unchanged");
  assert.not.ok(fs.existsSync(path));
  // Nothing of the earlier holds lets this process in without the lock.
  const again = await whileHeldElsewhere(ctx, netns, () => blocked(ctx, netns));
  assert.instance(again, LockTimeoutError);
});

test("a lock timeout from inside fn (another lock's) passes through as it is", async () => {
  const ctx = context();
  const netns = `/run/netns/${uniq()}`;
  const other = new LockTimeoutError({ path: `${ctx.store.locksDir}/alloc.lock`, timeoutMs: 5, holders: [] }, 'the allocation table is busy');
  let err: unknown;
  try {
    await withNetnsLock(ctx, netns, () => {
      throw other;
    });
  } catch (e) {
    err = e;
  }
  assert.is(err, other);
});

test('on a read-only data dir fn runs unlocked (no ADD can be creating or joining there)', async () => {
  const ctx = context();
  const netns = `/run/netns/${uniq()}`;
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro', 'tmpfs', ctx.store.locksDir]);
  try {
    assert.is(await withNetnsLock(ctx, netns, () => 'ran'), 'ran');
  } finally {
    execFileSync('umount', [ctx.store.locksDir]);
  }
});

test('sweepNetnsLocks: removes the netns lock files nobody holds, leaves a held one and every other file; no locks dir is 0', async () => {
  const ctx = context();
  const dir = ctx.store.locksDir;
  const stale = [netnsLockPath(ctx, '/run/netns/s1'), netnsLockPath(ctx, '/run/netns/s2')];
  for (const p of stale) fs.writeFileSync(p, '');
  const held = netnsLockPath(ctx, '/run/netns/held');
  const others = [`${dir}/net1+c1+eth0.lock`, `${dir}/netns-short.lock`, `${dir}/netns-0123456789abcdef.lock.tmp`, `${dir}/alloc.lock`];
  for (const p of others) fs.writeFileSync(p, '');
  const removed = await withLock(held, { timeoutMs: 1000 }, () => sweepNetnsLocks(dir));
  assert.is(removed, 2);
  for (const p of stale) assert.not.ok(fs.existsSync(p), p);
  assert.ok(fs.existsSync(held), 'the held one is its holder to remove');
  for (const p of others) assert.ok(fs.existsSync(p), p);
  assert.is(await sweepNetnsLocks(`${dir}/missing`), 0);
});

test.run();
