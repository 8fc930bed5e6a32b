// A lock leaves no file descriptor behind (lock.ts: acquire, withLock), however it ends: a
// resident helper serves many calls in one process, so an fd leaked per timeout or refusal
// would pile up until it runs out. Checked by what /proc/self/fd points at, not by counts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../src/cni/errors';
import { withLock } from '../../src/state/lock';
import { holdLocks } from './fixtures/lock-holder';
import { expectCniError, withTempDir } from './helpers';

/** The fds of this process open on `file` (or on what was at that path, deleted since). */
function fdsOn(file: string): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the fd of the listing itself, closed by now
    }
    if (target === file || target === `${file} (deleted)`) out.push(`${fd} -> ${target}`);
  }
  return out;
}

test('none after a timeout on a lock another process holds', () =>
  withTempDir(async (dir) => {
    const p = path.join(dir, 'held.lock');
    const holder = await holdLocks([p]);
    try {
      await expectCniError(ErrorCode.TryAgainLater, () => withLock(p, { timeoutMs: 30 }, () => {}));
      await expectCniError(ErrorCode.TryAgainLater, () => withLock(p, { timeoutMs: 0 }, () => {}));
      assert.equal(fdsOn(p), []);
    } finally {
      await holder.stop();
    }
  }));

test('none after a release, whether fn returns or throws, and none after a lock file is refused', () =>
  withTempDir(async (dir) => {
    const p = path.join(dir, 'a.lock');
    await withLock(p, { timeoutMs: 100 }, () => assert.equal(fdsOn(p).length, 1, 'held while fn runs'));
    await withLock(p, { timeoutMs: 100 }, () => Promise.reject(new Error('boom'))).catch(() => {});
    assert.equal(fdsOn(p), []);
    const fifo = path.join(dir, 'fifo.lock');
    execFileSync('mkfifo', ['-m', '0600', fifo]);
    await expectCniError(ErrorCode.StateFailure, () => withLock(fifo, { timeoutMs: 100 }, () => {}));
    assert.equal(fdsOn(fifo), []);
  }));

test('none on the unlinked file a waiter locked before starting over on the new one', () =>
  withTempDir(async (dir) => {
    const p = path.join(dir, 'r.lock');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = withLock(p, { timeoutMs: 1000 }, async (lock) => {
      lock.removeOnRelease();
      await held;
    });
    const second = withLock(p, { timeoutMs: 5000 }, () => fdsOn(p)); // waits on the first's inode
    await new Promise((r) => setTimeout(r, 20));
    release();
    await first;
    const inside = await second;
    assert.equal(inside.length, 1, `only the new file is open while the waiter holds it: ${inside.join(', ')}`);
    assert.not.ok(inside[0]!.endsWith('(deleted)'), inside[0]);
    assert.equal(fdsOn(p), []);
  }));

test.run();
