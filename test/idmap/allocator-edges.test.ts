// Allocator behaviour the mutation pass (npm run mutate) found unchecked, through the allocator's
// public functions against a real data dir and record store: a busy table lock is code 11
// naming the table, not "another operation on the same attachment"; the table's rows say when
// (in seconds) and stay sorted by host id, also when rebuilt from the records.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { openStore } from '../../src/attachment/context';
import { CniError, ErrorCode } from '../../src/cni/errors';
import { DEFAULTS } from '../../src/config/netconf';
import { allocateBlock, withLegacyBlocks, type AllocatorEnv } from '../../src/idmap/allocator';
import { poolFromConfig } from '../../src/idmap/pool';
import type { AttachmentRecord } from '../../src/generated/types';
import { blockEntry, readTable, type BlockRow } from '../../src/idmap/allocation-file';
import type { Logger } from '../../src/log/logger';
import type { AttachmentKey } from '../../src/state/names';
import { expectCniError, withTempDir } from '../state/helpers';

const B = 65536;
const quietLog: Logger = { error: () => {}, info: () => {}, debug: () => {}, step: () => () => 0, bind: () => {}, close: () => {} };
const envFor = (dir: string, lockTimeoutMs: number): AllocatorEnv => ({ dataDir: dir, lockTimeoutMs, store: openStore(dir), log: quietLog });
const pool = () => poolFromConfig({ ...DEFAULTS.allocator, start: 2_000 * B, count: 4 });

const key = (c: string): AttachmentKey => ({ network: 'n', containerId: c, ifname: 'eth0' });

function record(k: AttachmentKey, hostID: number): AttachmentRecord {
  const now = new Date().toISOString();
  return {
    schemaVersion: 1, ...k, cniVersion: '1.0.0', mode: 'create', phase: 'ready', bootId: 'b', createdAt: now, updatedAt: now,
    netns: { path: '/run/netns/x', pin: 'none' }, userns: { path: '', pin: 'none' }, delegates: [], allocation: { pool: pool().id, hostID, size: B },
  };
}

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

test('a table row carries the time of its allocation, in seconds', () =>
  withTempDir(async (dir) => {
    const before = Math.floor(Date.now() / 1000);
    await allocateBlock(envFor(dir, 2000), key('a'), pool());
    const [row] = readTable(dir).table!.blocks.map(blockEntry);
    assert.ok(row!.at >= before && row!.at <= Math.ceil(Date.now() / 1000), `at ${row!.at}, expected ${before}..now in seconds`);
  }));

test('a table rebuilt from the records is sorted by host id, whatever order the records are read in', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const p = pool();
    // Names in the reverse order of their blocks: the store lists them by name.
    for (const [c, i] of [['a', 2], ['b', 1], ['c', 0]] as const) env.store.put(key(c), record(key(c), p.spans[0]!.start + i * B));
    const next = await allocateBlock(env, key('d'), p); // no table yet: rebuilt, then d added
    assert.is(next.hostID, p.spans[0]!.start + 3 * B);
    assert.equal(readTable(dir).table!.blocks.map((r) => [r[1], r[4] - p.spans[0]!.start]), [['c', 0], ['b', B], ['a', 2 * B], ['d', 3 * B]]);
  }));

test('a version-1 table\'s blocks merged into a rebuild: the rows sorted by host id, the rebuild\'s own row kept once', () => {
  const row = (c: string, hostID: number): BlockRow => ['n', c, 'eth0', 'p', hostID, B, 0];
  const merged = withLegacyBlocks({ blocks: [row('r', 2 * B)], explicit: [] }, [row('r', 2 * B), row('old', 0), row('older', 4 * B)]);
  assert.equal(merged.blocks.map((r) => [r[1], r[4]]), [['old', 0], ['r', 2 * B], ['older', 4 * B]]);
});

test.run();
