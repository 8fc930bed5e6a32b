// What withLock (lock.ts: openLockFile) does with each kind of thing found at a lock path: a
// regular file is locked; a symlink, a FIFO or a directory is refused with an error naming the
// path and what is wrong, fn never runs, and nothing is followed or blocked on.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../src/cni/errors';
import { withLock } from '../../src/state/lock';
import { expectCniError, withTempDir } from './helpers';

async function refused(lockPath: string, code: number): Promise<string> {
  let ran = false;
  const err = await expectCniError(code, () =>
    withLock(lockPath, { timeoutMs: 100 }, () => {
      ran = true;
    }),
  );
  assert.not.ok(ran, `fn ran on ${lockPath}`);
  return err.message;
}

test('a symlink is refused (code 102), saying so', () =>
  withTempDir(async (dir) => {
    const p = path.join(dir, 's.lock');
    fs.symlinkSync(path.join(dir, 'target'), p);
    assert.is(await refused(p, ErrorCode.StateFailure), `lock file ${p} is a symbolic link; refusing to follow it`);
    assert.not.ok(fs.existsSync(path.join(dir, 'target')));
  }));

test('a FIFO is refused (code 102) without blocking on it', () =>
  withTempDir(async (dir) => {
    const p = path.join(dir, 'f.lock');
    execFileSync('mkfifo', ['-m', '0600', p]);
    assert.is(await refused(p, ErrorCode.StateFailure), `lock file ${p} is not a regular file`);
  }));

test('a directory cannot be opened as a lock file (code 5, naming the errno)', () =>
  withTempDir(async (dir) => {
    const p = path.join(dir, 'd.lock');
    fs.mkdirSync(p);
    assert.is(await refused(p, ErrorCode.IoFailure), `cannot open lock file ${p}: EISDIR`);
  }));

test.run();
