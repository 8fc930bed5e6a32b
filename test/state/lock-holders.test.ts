// Who a lock timeout blames (lock.ts: holderPids, from /proc/locks): the process holding that
// very lock file, and no other. An operator reads "held by pid N" and may act on N, so a pid
// taken from another file's line, or our own, would send them after the wrong process.
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, LockTimeoutError } from '../../src/cni/errors';
import { withLock } from '../../src/state/lock';
import { type LockHolder, holdLocks } from './fixtures/lock-holder';
import { expectCniError, withTempDir } from './helpers';

async function timeoutOn(lockPath: string): Promise<LockTimeoutError> {
  let ran = false;
  const err = await expectCniError(ErrorCode.TryAgainLater, () =>
    withLock(lockPath, { timeoutMs: 50 }, () => {
      ran = true;
    }),
  );
  assert.not.ok(ran, `${lockPath}: fn ran without the lock`);
  assert.instance(err, LockTimeoutError);
  return err as LockTimeoutError;
}

async function withHolders<T>(sets: string[][], fn: (holders: LockHolder[]) => Promise<T>): Promise<T> {
  const holders: LockHolder[] = [];
  try {
    for (const s of sets) holders.push(await holdLocks(s));
    return await fn(holders);
  } finally {
    for (const h of holders) await h.stop();
  }
}

test('each timeout names the holder of its own lock file, not the holders of other lock files', () =>
  withTempDir((dir) => {
    const a = path.join(dir, 'a.lock');
    const b = path.join(dir, 'b.lock');
    return withHolders([[a], [b]], async ([ha, hb]) => {
      const ea = await timeoutOn(a);
      assert.equal(ea.holders, [ha!.pid]);
      assert.is(ea.message, `timed out after 50ms waiting for lock ${a} (held by pid ${ha!.pid}); another operation on the same attachment is still running`);
      const eb = await timeoutOn(b);
      assert.equal(eb.holders, [hb!.pid]);
      assert.match(eb.message, `waiting for lock ${b} (held by pid ${hb!.pid});`);
    });
  }));

test('the holder is found whatever its line number and inode number in /proc/locks (several digits each)', () =>
  withTempDir((dir) => {
    // Twelve locks: at least three of them are on lines numbered 10 or more, and at least
    // three have an inode number of two digits or more, even on a fresh tmpfs.
    const paths = Array.from({ length: 12 }, (_, i) => path.join(dir, `l${i}.lock`));
    return withHolders([paths], async ([h]) => {
      for (const p of paths) assert.equal((await timeoutOn(p)).holders, [h!.pid], p);
    });
  }));

test('a lock held elsewhere in this same process times out naming no pid: ours is not a holder to look at', () =>
  withTempDir(async (dir) => {
    const p = path.join(dir, 'self.lock');
    await withLock(p, { timeoutMs: 1000 }, async () => {
      const err = await timeoutOn(p);
      assert.equal(err.holders, []);
      assert.not.match(err.message, 'held by');
    });
  }));

test.run();
