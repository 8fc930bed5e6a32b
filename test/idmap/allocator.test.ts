// The allocator against a real data dir and record store, in process: lowest-first, reuse
// on retry, release, exhaustion, damaged tables rebuilt from records, orphans, restores.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { openStore } from '../../src/attachment/context';
import { ErrorCode } from '../../src/cni/errors';
import { DEFAULTS } from '../../src/config/netconf';
import type { AttachmentRecord } from '../../src/generated/types';
import { allocateBlock, blocksHeldByOthers, releaseBlock, type AllocatorEnv } from '../../src/idmap/allocator';
import { readTable } from '../../src/idmap/allocation-file';
import { poolFromConfig, type Pool } from '../../src/idmap/pool';
import { refuseSharedRanges } from '../../src/idmap/shared-ranges';
import type { Logger } from '../../src/log/logger';
import { withLock } from '../../src/state/lock';
import type { AttachmentKey } from '../../src/state/names';
import { expectCniError, withTempDir } from '../state/helpers';

const B = 65536;
const START = 1_000 * B;

function captureLog(): Logger & { events: string[] } {
  const events: string[] = [];
  const push = (e: string) => void events.push(e);
  return { events, error: push, info: push, debug: () => {}, step: () => () => 0, bind: () => {}, close: () => {} };
}

function envFor(dir: string): AllocatorEnv & { log: ReturnType<typeof captureLog> } {
  return { dataDir: dir, lockTimeoutMs: 2000, store: openStore(dir), log: captureLog() };
}

const key = (c: string): AttachmentKey => ({ network: 'n1', containerId: c, ifname: 'eth0' });

function record(k: AttachmentKey, extra: Partial<AttachmentRecord>): AttachmentRecord {
  const now = new Date().toISOString();
  return {
    schemaVersion: 1, ...k, cniVersion: '1.0.0', mode: 'create', phase: 'ready', bootId: 'b', createdAt: now, updatedAt: now,
    netns: { path: '/run/netns/x', pin: 'none' }, userns: { path: '', pin: 'none' }, delegates: [], ...extra,
  };
}

/** Allocates and writes the record, as ADD does. */
async function add(env: AllocatorEnv, c: string, pool: Pool): Promise<number> {
  const a = await allocateBlock(env, key(c), pool);
  env.store.put(key(c), record(key(c), { allocation: { pool: a.pool, hostID: a.hostID, size: a.size } }));
  return a.hostID;
}

async function del(env: AllocatorEnv, c: string): Promise<void> {
  const rec = env.store.get(key(c)) as AttachmentRecord;
  await releaseBlock(env, rec);
  env.store.delete(key(c));
}

const pool4 = () => poolFromConfig({ ...DEFAULTS.allocator, start: START, count: 4 });
const tableIds = (dir: string) => readTable(dir).table!.blocks.map((b) => [b.containerId, b.hostID]);

test('lowest free block first; released blocks come back lowest-first', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = pool4();
    assert.equal([await add(env, 'a', p), await add(env, 'b', p), await add(env, 'c', p)], [START, START + B, START + 2 * B]);
    await del(env, 'b');
    assert.equal(tableIds(dir), [['a', START], ['c', START + 2 * B]]);
    assert.is(await add(env, 'd', p), START + B);
    assert.is(fs.statSync(path.join(dir, 'allocations.json')).mode & 0o777, 0o600);
    assert.equal(env.log.events, [], 'first use of a data dir is not a warning');
  }));

test('exhausted pool: code 104 naming the pool and its size; one release makes room', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = poolFromConfig({ ...DEFAULTS.allocator, start: START, count: 2 });
    await add(env, 'a', p);
    await add(env, 'b', p);
    const e = await expectCniError(ErrorCode.PoolExhausted, () => allocateBlock(env, key('c'), p));
    assert.match(e.message, `config pool ${START}-${START + 2 * B - 1}`);
    assert.match(e.message, `all 2 blocks of 65536 ids (131072 ids)`);
    await del(env, 'a');
    assert.is(await add(env, 'c', p), START);
  }));

test('a retried ADD (no record yet) gets its own block back', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = pool4();
    const first = await allocateBlock(env, key('a'), p);
    const again = await allocateBlock(env, key('a'), p);
    assert.equal([again.hostID, again.reused, first.reused], [first.hostID, true, false]);
    assert.is(readTable(dir).table!.blocks.length, 1);
  }));

for (const [what, content] of [
  ['truncated', '{"version":1,"blocks":[{"network":"n1","conta'],
  ['garbage', '\x00\x01garbage'],
  ['wrong shape', '{"version":1,"blocks":[{"hostID":"x"}]}'],
  ['empty', ''],
  ['missing', undefined],
] as const) {
  test(`${what} table: rebuilt from the records with a warning, no block a record holds is handed out`, () =>
    withTempDir(async (dir) => {
      const env = envFor(dir);
      const p = pool4();
      await add(env, 'a', p);
      await add(env, 'b', p);
      await add(env, 'c', p);
      await del(env, 'a'); // START is free again
      const file = path.join(dir, 'allocations.json');
      if (content === undefined) fs.rmSync(file);
      else fs.writeFileSync(file, content);
      assert.is(await add(env, 'd', p), START);
      assert.is(await add(env, 'e', p), START + 3 * B);
      assert.ok(env.log.events.includes('allocations-rebuilt'), env.log.events.join());
      assert.equal(tableIds(dir).sort(), [['b', START + B], ['c', START + 2 * B], ['d', START], ['e', START + 3 * B]].sort());
    }));
}

test('a corrupt record still holds the block its text names', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = pool4();
    await add(env, 'a', p);
    const rec = env.store.fileFor(key('a'));
    fs.writeFileSync(rec, fs.readFileSync(rec, 'utf8').replace('"delegates"', '"delegat')); // unparsable
    fs.rmSync(path.join(dir, 'allocations.json'));
    assert.is(await add(env, 'b', p), START + B);
  }));

test('a record whose block the table lost (crash between release and record delete) keeps it reserved', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = pool4();
    await add(env, 'a', p);
    await releaseBlock(env, env.store.get(key('a')) as AttachmentRecord); // ... and killed before store.delete
    assert.equal(readTable(dir).table!.blocks, []);
    assert.is(await add(env, 'b', p), START + B);
    assert.ok(env.log.events.includes('allocation-restored'));
    await del(env, 'a'); // the retried DEL finishes
    assert.is(await add(env, 'c', p), START);
  }));

test('a full pool drops table entries with no record (ADD killed before its record) unless that ADD is still running', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = poolFromConfig({ ...DEFAULTS.allocator, start: START, count: 2 });
    await allocateBlock(env, key('ghost'), p); // no record written
    // While the attachment's lock is held (ADD in flight), the entry stays.
    await withLock(env.store.lockFor(key('ghost')), { timeoutMs: 1000 }, async () => {
      assert.is(await add(env, 'a', p), START + B);
      await expectCniError(ErrorCode.PoolExhausted, () => allocateBlock(env, key('b'), p));
    });
    assert.is(await add(env, 'b', p), START, 'ghost dropped once its lock was free');
    assert.ok(env.log.events.includes('allocation-orphan-dropped'));
  }));

test('release removes only that attachment\'s entry for that block', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = pool4();
    await add(env, 'a', p);
    const stale = record(key('a'), { allocation: { pool: p.id, hostID: START + 3 * B, size: B } });
    await releaseBlock(env, stale);
    await releaseBlock(env, record(key('zz'), { allocation: { pool: p.id, hostID: START, size: B } }));
    assert.equal(tableIds(dir), [['a', START]]);
    await releaseBlock(env, record(key('x'), {})); // no allocation: nothing to do
  }));

test('explicit ranges of live records are avoided; explicit overlap with a block is refused naming both', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = pool4();
    const range = { containerID: 0, hostID: START, size: 10 };
    env.store.put(key('static'), record(key('static'), { mappings: { uidMappings: [range], gidMappings: [range] } }));
    assert.is(await add(env, 'a', p), START + B);
    const m = { uidMappings: [{ containerID: 0, hostID: START + B + 5, size: 1 }], gidMappings: [{ containerID: 0, hostID: 7, size: 1 }] };
    const e = await expectCniError(ErrorCode.MappingInvalid, () => refuseSharedRanges(m, 'cniArgs', blocksHeldByOthers(env, key('new'))));
    assert.match(e.message, 'CNI_ARGS USERNS_UID_MAP/USERNS_GID_MAP: uidMappings[0] (containerID 0, hostID 65601541, size 1)');
    assert.match(e.message, `${START + B}-${START + 2 * B - 1}, the block the allocator gave to attachment n1/a/eth0`);
    refuseSharedRanges(m, 'cniArgs', blocksHeldByOthers(env, key('a'))); // its own block: fine
  }));

test('allocation cost (40 sequential allocations + releases)', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = poolFromConfig({ ...DEFAULTS.allocator, start: START, count: 64 });
    const t0 = performance.now();
    for (let i = 0; i < 40; i++) await add(env, `c${i}`, p);
    const t1 = performance.now();
    for (let i = 0; i < 40; i++) await del(env, `c${i}`);
    const t2 = performance.now();
    console.error(`    allocate (with record write): ${((t1 - t0) / 40).toFixed(2)} ms each, release+delete: ${((t2 - t1) / 40).toFixed(2)} ms each`);
    assert.equal(readTable(dir).table!.blocks, []);
  }));

test.run();
