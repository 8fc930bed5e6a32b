import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, LockTimeoutError } from '../../src/cni/errors';
import { openStore } from '../../src/attachment/context';
import { storeRecords } from '../../src/idmap/store-records';
import { TABLE_LOCK } from '../../src/idmap/allocation-file';
import { underTableLock } from '../../src/idmap/allocator';
import { createLogger } from '../../src/log/logger';
import { withLock } from '../../src/state/lock';
import { expectCniError, modeOf, withTempDir } from './helpers';

const holder = fileURLToPath(new URL('./fixtures/hold-lock.mts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a separate node process that takes the lock and holds it for holdMs. */
async function holdInChild(lockPath: string, holdMs: number, marker?: string): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', holder, lockPath, String(holdMs), ...(marker ? [marker] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked\n')) resolve();
    });
    void exited.then((code) => reject(new Error(`lock holder exited early with ${code}`)));
  });
  return { child, exited };
}

test('a lock timeout explained by its caller (the allocation table) keeps the typed fields and the holder', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, TABLE_LOCK);
    const { child, exited } = await holdInChild(lockPath, 30_000);
    try {
      const env = { dataDir: dir, lockTimeoutMs: 200, records: storeRecords(openStore(dir)), log: createLogger({ command: 'ADD' }) };
      const err = await expectCniError(ErrorCode.TryAgainLater, () => underTableLock(env, () => {}));
      assert.instance(err, LockTimeoutError);
      assert.is((err as LockTimeoutError).path, lockPath);
      assert.equal((err as LockTimeoutError).holders, [child.pid]);
      assert.is(err.message, `allocator: timed out after 200ms waiting for lock ${lockPath} (held by pid ${child.pid}); the id allocation table is busy, try again`);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  }));

test('a lock held by another process makes us wait until it is released', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, 'a.lock');
    const marker = path.join(dir, 'released');
    const { exited } = await holdInChild(lockPath, 600, marker);
    const t0 = Date.now();
    await withLock(lockPath, { timeoutMs: 10_000 }, () => {
      // The child writes the marker before it unlocks, so it must be there now.
      assert.ok(fs.existsSync(marker), 'we got the lock only after the holder released it');
    });
    const waited = Date.now() - t0;
    assert.ok(waited >= 450, `waited ${waited}ms for a 600ms hold`);
    assert.is(await exited, 0);
  }));

test('waiting past the deadline fails with code 11, naming the lock and the holder', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, 'b.lock');
    const { child, exited } = await holdInChild(lockPath, 30_000);
    try {
      const t0 = Date.now();
      let ran = false;
      const err = await expectCniError(ErrorCode.TryAgainLater, () =>
        withLock(lockPath, { timeoutMs: 300 }, () => {
          ran = true;
        }),
      );
      const took = Date.now() - t0;
      assert.not.ok(ran);
      assert.is(err.code, 11);
      assert.match(err.message, 'timed out after 300ms');
      assert.match(err.message, lockPath);
      assert.match(err.message, `pid ${child.pid}`);
      // Typed: callers act on the fields, never on the message text.
      assert.instance(err, LockTimeoutError);
      assert.is((err as LockTimeoutError).path, lockPath);
      assert.equal((err as LockTimeoutError).holders, [child.pid]);
      assert.is((err as LockTimeoutError).timeoutMs, 300);
      assert.ok(took >= 290 && took < 1500, `gave up after ${took}ms`);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  }));

test('a holder killed with SIGKILL leaves no stale lock', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, 'c.lock');
    const { child, exited } = await holdInChild(lockPath, 30_000);
    child.kill('SIGKILL');
    await exited;
    const t0 = Date.now();
    await withLock(lockPath, { timeoutMs: 2000 }, () => {});
    assert.ok(Date.now() - t0 < 200);
  }));

test('holders in one process serialize too, and the lock is released when fn throws', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, 'd.lock');
    const events: string[] = [];
    const run = (id: string) =>
      withLock(lockPath, { timeoutMs: 5000 }, async () => {
        events.push(`${id}+`);
        await sleep(30);
        events.push(`${id}-`);
      });
    await Promise.all([run('a'), run('b'), run('c')]);
    for (let i = 0; i < events.length; i += 2) {
      assert.is(events[i]!.slice(0, -1), events[i + 1]!.slice(0, -1), `interleaved: ${events.join(' ')}`);
    }
    try {
      await withLock(lockPath, { timeoutMs: 1000 }, () => {
        throw new Error('boom');
      });
      assert.unreachable('should have thrown');
    } catch (err) {
      assert.is((err as Error).message, 'boom');
    }
    await withLock(lockPath, { timeoutMs: 50 }, () => {}); // free again at once
    assert.is(modeOf(lockPath), 0o600);
  }));

test('a symlink at the lock path is refused and not followed', () =>
  withTempDir(async (dir) => {
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'precious');
    fs.chmodSync(victim, 0o644);
    fs.symlinkSync(victim, path.join(dir, 'e.lock'));
    await expectCniError(ErrorCode.StateFailure, () => withLock(path.join(dir, 'e.lock'), { timeoutMs: 100 }, () => {}));
    assert.is(fs.readFileSync(victim, 'utf8'), 'precious');
    assert.is(modeOf(victim), 0o644);
    fs.symlinkSync(path.join(dir, 'created-through-link'), path.join(dir, 'f.lock'));
    await expectCniError(ErrorCode.StateFailure, () => withLock(path.join(dir, 'f.lock'), { timeoutMs: 100 }, () => {}));
    assert.not.ok(fs.existsSync(path.join(dir, 'created-through-link')), 'a dangling link was not followed');
  }));

test('removeOnRelease: a waiter that locked the unlinked file retries on the new one', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, 'g.lock');
    let releaseA!: () => void;
    const aHeld = new Promise<void>((r) => (releaseA = r));
    const a = withLock(lockPath, { timeoutMs: 1000 }, async (lock) => {
      lock.removeOnRelease();
      await aHeld;
    });
    await sleep(10);
    let bInside = false;
    let releaseB!: () => void;
    const bHeld = new Promise<void>((r) => (releaseB = r));
    const b = withLock(lockPath, { timeoutMs: 5000 }, async () => {
      bInside = true;
      await bHeld;
    }); // b now has the old file open and waits on it
    await sleep(20);
    releaseA();
    await a;
    while (!bInside) await sleep(5);
    assert.ok(fs.existsSync(lockPath), 'b re-created the lock file at the path');
    // c must see b's lock at the path, not a free file.
    await expectCniError(ErrorCode.TryAgainLater, () => withLock(lockPath, { timeoutMs: 100 }, () => {}));
    releaseB();
    await b;
  }));

test.run();
