// Allocator behaviour the mutation pass (npm run mutate) found unchecked, through the allocator's
// public functions against a real data dir and record store: a busy table lock is code 11
// naming the table, not "another operation on the same attachment".
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { openStore } from '../../src/attachment/context';
import { CniError, ErrorCode } from '../../src/cni/errors';
import { DEFAULTS } from '../../src/config/netconf';
import { allocateBlock, type AllocatorEnv } from '../../src/idmap/allocator';
import { poolFromConfig } from '../../src/idmap/pool';
import type { Logger } from '../../src/log/logger';
import { expectCniError, withTempDir } from '../state/helpers';

const B = 65536;
const quietLog: Logger = { error: () => {}, info: () => {}, debug: () => {}, step: () => () => 0, bind: () => {}, close: () => {} };
const envFor = (dir: string, lockTimeoutMs: number): AllocatorEnv => ({ dataDir: dir, lockTimeoutMs, store: openStore(dir), log: quietLog });
const pool = () => poolFromConfig({ ...DEFAULTS.allocator, start: 2_000 * B, count: 4 });

/** Holds `lockPath` from another process (flock(1)) for `ms`; resolves once it is held. */
async function holdLock(lockPath: string, ms: number): Promise<{ release: () => void }> {
  const child = spawn('flock', ['-x', lockPath, 'sleep', String(ms / 1000)], { stdio: 'ignore' });
  const release = () => void (child.exitCode === null && child.kill('SIGKILL'));
  for (let i = 0; i < 200; i++) {
    if (spawnSync('flock', ['-n', lockPath, 'true']).status !== 0) return { release };
    await new Promise((r) => setTimeout(r, 10));
  }
  release();
  throw new Error(`flock never took ${lockPath}`);
}

test('a busy table lock: code 11 after the configured timeout, naming the table lock and the table, keeping the lock error as cause', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, 'allocations.lock');
    await allocateBlock(envFor(dir, 2000), { network: 'n', containerId: 'first', ifname: 'eth0' }, pool()); // the lock file exists, as in use
    const held = await holdLock(lockPath, 3000);
    try {
      const err = await expectCniError(ErrorCode.TryAgainLater, () => allocateBlock(envFor(dir, 50), { network: 'n', containerId: 'c', ifname: 'eth0' }, pool()));
      const lock = lockPath.replace(/[.]/g, '\\.');
      assert.match(err.message, new RegExp(`^allocator: timed out after 50ms waiting for lock ${lock} \\(held by pid \\d+\\); the id allocation table is busy, try again$`));
      assert.not.match(err.message, /another operation/, 'the lock is the table\'s, not the attachment\'s');
      assert.ok(err.cause instanceof CniError && err.cause.code === ErrorCode.TryAgainLater && err.cause.message.includes(lockPath), 'the lock error is the cause');
    } finally {
      held.release();
    }
  }));

test.run();
