// Locks on a read-only data dir (lock.ts: openLockFile's read-only fallback, unlockedIfReadOnly;
// record-store.ts: withLock when even the locks directory cannot be made). DEL and CHECK must
// still work there, and still serialise with whoever holds an existing lock file; everything
// else must fail naming the file and EROFS, and nothing but EROFS may excuse running unlocked.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, type LockTimeoutError } from '../../src/cni/errors';
import { withLock } from '../../src/state/lock';
import { RecordStore } from '../../src/state/record-store';
import { holdLocks } from './fixtures/lock-holder';
import { expectCniError, withTempDir } from './helpers';

/** A tmpfs at <dir>/ro, filled by `fill` while writable, then remounted read-only for `fn`. */
async function withReadOnlyDir<T>(dir: string, fill: (ro: string) => void, fn: (ro: string) => Promise<T>): Promise<T> {
  const ro = path.join(dir, 'ro');
  fs.mkdirSync(ro);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'mode=0700', 'uxt-ro-lock', ro]);
  try {
    fill(ro);
    execFileSync('mount', ['-o', 'remount,ro', ro]);
    return await fn(ro);
  } finally {
    execFileSync('umount', ['-l', ro]);
  }
}

test('an existing lock file on a read-only filesystem still serialises with its holder, DEL and CHECK included', () =>
  withTempDir((dir) =>
    withReadOnlyDir(
      dir,
      (ro) => fs.writeFileSync(path.join(ro, 'k.lock'), '', { mode: 0o600 }),
      async (ro) => {
        const p = path.join(ro, 'k.lock');
        const holder = await holdLocks([p]);
        try {
          for (const opts of [{ timeoutMs: 100 }, { timeoutMs: 100, unlockedIfReadOnly: true }]) {
            let ran = false;
            const err = await expectCniError(ErrorCode.TryAgainLater, () =>
              withLock(p, opts, () => {
                ran = true;
              }),
            );
            assert.not.ok(ran, 'fn ran while another process held the lock');
            assert.equal((err as LockTimeoutError).holders, [holder.pid]);
          }
        } finally {
          await holder.stop();
        }
        assert.is(await withLock(p, { timeoutMs: 1000 }, () => 'in'), 'in', 'free once the holder is gone');
      },
    ),
  ));

test('a lock file that cannot be created on a read-only filesystem: code 5 naming it and EROFS; DEL and CHECK run unlocked', () =>
  withTempDir((dir) =>
    withReadOnlyDir(
      dir,
      () => {},
      async (ro) => {
        const p = path.join(ro, 'missing.lock');
        let ran = false;
        const err = await expectCniError(ErrorCode.IoFailure, () =>
          withLock(p, { timeoutMs: 100 }, () => {
            ran = true;
          }),
        );
        assert.not.ok(ran);
        assert.is(err.message, `cannot open lock file ${p}: EROFS`);
        const got = await withLock(p, { timeoutMs: 100, unlockedIfReadOnly: true }, (lock) => {
          assert.is(lock.path, p);
          lock.removeOnRelease(); // nothing to remove: must not throw
          return 'unlocked';
        });
        assert.is(got, 'unlocked');
        assert.equal(fs.readdirSync(ro), []);
      },
    ),
  ));

test('unlockedIfReadOnly excuses EROFS only: a symlinked lock file is still refused', () =>
  withTempDir(async (dir) => {
    fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'l.lock'));
    let ran = false;
    await expectCniError(ErrorCode.StateFailure, () =>
      withLock(path.join(dir, 'l.lock'), { timeoutMs: 100, unlockedIfReadOnly: true }, () => {
        ran = true;
      }),
    );
    assert.not.ok(ran);
    assert.not.ok(fs.existsSync(path.join(dir, 'nowhere')));
  }));

test('a symlink at the lock path on a read-only filesystem is refused as a symlink, not excused as read-only', () =>
  withTempDir((dir) =>
    withReadOnlyDir(
      dir,
      (ro) => fs.symlinkSync(path.join(dir, 'target'), path.join(ro, 's.lock')),
      async (ro) => {
        const p = path.join(ro, 's.lock');
        let ran = false;
        const err = await expectCniError(ErrorCode.StateFailure, () =>
          withLock(p, { timeoutMs: 100, unlockedIfReadOnly: true }, () => {
            ran = true;
          }),
        );
        assert.not.ok(ran, 'fn ran unlocked');
        assert.is(err.message, `lock file ${p} is a symbolic link; refusing to follow it`);
      },
    ),
  ));

test('a store on a read-only data dir with no locks dir yet: code 5 for ADD, DEL and CHECK run unlocked', () =>
  withTempDir((dir) =>
    withReadOnlyDir(
      dir,
      () => {},
      async (ro) => {
        const store = new RecordStore<object>(ro);
        const key = { network: 'net1', containerId: 'c1', ifname: 'eth0' };
        let ran = false;
        const err = await expectCniError(ErrorCode.IoFailure, () =>
          store.withLock(key, { timeoutMs: 100 }, () => {
            ran = true;
          }),
        );
        assert.not.ok(ran);
        assert.match(err.message, store.locksDir);
        assert.match(err.message, 'EROFS');
        const got = await store.withLock(key, { timeoutMs: 100, unlockedIfReadOnly: true }, (lock) => {
          assert.is(path.dirname(lock.path), store.locksDir);
          return 'unlocked';
        });
        assert.is(got, 'unlocked');
        assert.equal(fs.readdirSync(ro), []);
      },
    ),
  ));

test.run();
