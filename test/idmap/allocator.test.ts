// The allocator against a real data dir and record store (through store-records.ts, the port's
// real adapter), in process: lowest-first, reuse
// on retry, release, exhaustion, damaged and version-1 tables rebuilt from records (linear,
// outside the lock), explicit-mapping entries, orphans.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { openStore } from '../../src/attachment/context';
import { storeRecords } from '../../src/idmap/store-records';
import type { RecordStore } from '../../src/state/record-store';
import { ErrorCode } from '../../src/cni/errors';
import { DEFAULTS } from '../../src/config/netconf';
import type { AttachmentRecord } from '../../src/generated/types';
import { allocateBlock, blocksOverlapping, checkPoolHasRoom, recordExplicit, releaseBlock, releaseKey, sweepOrphanAllocations, updateTable, withLegacyBlocks, type AllocatorEnv } from '../../src/idmap/allocator';
import { blockEntry, blockRow, explicitEntry, readTable, type BlockEntry } from '../../src/idmap/allocation-file';
import { poolFromConfig, type Pool } from '../../src/idmap/pool';
import { refuseSharedRanges } from '../../src/idmap/shared-ranges';
import type { Logger } from '../../src/log/logger';
import { withLock } from '../../src/state/lock';
import type { AttachmentKey } from '../../src/state/names';
import { expectCniError, withTempDir } from '../state/helpers';
import { readyRecord } from './helpers/ready-record';

const B = 65536;
const START = 1_000 * B;

function captureLog(): Logger & { events: string[] } {
  const events: string[] = [];
  const push = (e: string) => void events.push(e);
  return { events, error: push, info: push, debug: () => {}, step: () => () => 0, bind: () => {}, close: () => {} };
}

type TestEnv = AllocatorEnv & { store: RecordStore<AttachmentRecord>; log: ReturnType<typeof captureLog> };

function envFor(dir: string): TestEnv {
  const store = openStore(dir);
  return { dataDir: dir, lockTimeoutMs: 2000, store, records: storeRecords(store), log: captureLog() };
}

/** The allocator sees `store` (a spy) from now on. */
function useStore(env: TestEnv, store: RecordStore<AttachmentRecord>): void {
  env.store = store;
  env.records = storeRecords(store);
}

const key = (c: string): AttachmentKey => ({ network: 'n1', containerId: c, ifname: 'eth0' });

const record = readyRecord;

/** Allocates and writes the record, as ADD does. */
async function add(env: TestEnv, c: string, pool: Pool): Promise<number> {
  const a = await allocateBlock(env, key(c), pool);
  env.store.put(key(c), record(key(c), { allocation: { pool: a.pool, hostID: a.hostID, size: a.size } }));
  return a.hostID;
}

/** As teardown does: the record goes first, then its ids. */
async function del(env: TestEnv, c: string): Promise<void> {
  const rec = env.store.get(key(c)) as AttachmentRecord;
  env.store.delete(key(c));
  await releaseBlock(env, rec);
}

/** Explicit mapping, as ADD does: table entry (with the overlap check), then the record. */
async function addExplicit(env: TestEnv, c: string, hostID: number, size: number, refuse = true): Promise<void> {
  const r = { containerID: 0, hostID, size };
  const m = { uidMappings: [r], gidMappings: [{ ...r }] };
  await recordExplicit(env, key(c), m, refuse ? (held) => refuseSharedRanges(m, 'cniArgs', held) : undefined);
  env.store.put(key(c), record(key(c), { mappings: m }));
}

/** Is the table lock free right now? (flock(1) in another process: synchronous, same lock.) */
function tryTableLock(dir: string): boolean {
  return spawnSync('flock', ['-n', path.join(dir, 'allocations.lock'), 'true']).status === 0;
}

const pool4 = () => poolFromConfig({ ...DEFAULTS.allocator, start: START, count: 4 });
const blocksOf = (dir: string) => readTable(dir).table!.blocks.map(blockEntry);
const explicitOf = (dir: string) => readTable(dir).table!.explicit.map(explicitEntry);
const tableIds = (dir: string) => blocksOf(dir).map((b) => [b.containerId, b.hostID]);

test('lowest free block first; released blocks come back lowest-first', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = pool4();
    assert.equal([await add(env, 'a', p), await add(env, 'b', p), await add(env, 'c', p)], [START, START + B, START + 2 * B]);
    await del(env, 'b');
    assert.equal(tableIds(dir), [
      ['a', START],
      ['c', START + 2 * B],
    ]);
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

test('STATUS sees a full pool as ADD would (104 naming the pool), room again after a release; no table yet is room', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = poolFromConfig({ ...DEFAULTS.allocator, start: START, count: 2 });
    checkPoolHasRoom(dir, p);
    await add(env, 'a', p);
    checkPoolHasRoom(dir, p);
    await add(env, 'b', p);
    const e = await expectCniError(ErrorCode.PoolExhausted, async () => checkPoolHasRoom(dir, p));
    assert.match(e.message, `config pool ${START}-${START + 2 * B - 1}`);
    await del(env, 'a');
    checkPoolHasRoom(dir, p);
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
  ['version 2, a block of size 0', '{"version":2,"blocks":[["n1","a","eth0","p",65536000,0,0]],"explicit":[]}'],
  ['version 2, an explicit range with a string', '{"version":2,"blocks":[],"explicit":[["n1","s","eth0",[1,"x"]]]}'],
  ['version 2, no explicit array', '{"version":2,"blocks":[]}'],
  ['version 3', '{"version":3,"blocks":[],"explicit":[]}'],
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
      assert.equal(
        tableIds(dir).sort(),
        [
          ['b', START + B],
          ['c', START + 2 * B],
          ['d', START],
          ['e', START + 3 * B],
        ].sort(),
      );
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

test('teardown killed between record delete and release: an orphan entry, never a record whose block went to another', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = pool4();
    await add(env, 'a', p);
    env.store.delete(key('a')); // ... and killed before releaseBlock
    assert.is(await add(env, 'b', p), START + B, 'the orphan still holds its block');
    assert.is(await releaseKey(env, key('a')), true, 'DEL without a record releases it by key');
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

test("release removes only that attachment's entry for that block", () =>
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

test('explicit mappings are table entries: avoided by the allocator, overlap with a block refused naming both, released on teardown', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = pool4();
    await addExplicit(env, 'static', START, 10);
    assert.equal(
      explicitOf(dir).map((x) => [x.containerId, x.ranges]),
      [['static', [START, 10]]],
      'uid and gid range, once',
    );
    assert.is(await add(env, 'a', p), START + B);
    const m = { uidMappings: [{ containerID: 0, hostID: START + B + 5, size: 1 }], gidMappings: [{ containerID: 0, hostID: 7, size: 1 }] };
    const e = await expectCniError(ErrorCode.MappingInvalid, () => recordExplicit(env, key('new'), m, (held) => refuseSharedRanges(m, 'cniArgs', held)));
    assert.match(e.message, 'CNI_ARGS USERNS_UID_MAP/USERNS_GID_MAP: uidMappings[0] (containerID 0, hostID 65601541, size 1)');
    assert.match(e.message, `${START + B}-${START + 2 * B - 1}, the block the allocator gave to attachment n1/a/eth0`);
    assert.is(readTable(dir).table!.explicit.length, 1, 'a refused mapping leaves no entry');
    refuseSharedRanges(m, 'cniArgs', blocksOverlapping(readTable(dir).table!, key('a'), m)); // its own block: fine
    // allowSharedRanges: no check, but the entry is still made so the allocator keeps clear.
    await addExplicit(env, 'shared', START + 2 * B, B, false);
    assert.is(await add(env, 'b', p), START + 3 * B);
    await del(env, 'static');
    assert.equal(
      explicitOf(dir).map((x) => x.containerId),
      ['shared'],
    );
    assert.is(await add(env, 'c', p), START, 'released with its record');
  }));

test('a version-1 table is upgraded by a rebuild: explicit ranges from the records, its blocks kept, never misread', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = pool4();
    const range = { containerID: 0, hostID: START, size: 10 };
    // Records of an older version: one explicit mapping (never in a v1 table), one block.
    env.store.put(key('static'), record(key('static'), { mappings: { uidMappings: [range], gidMappings: [range] } }));
    env.store.put(key('a'), record(key('a'), { allocation: { pool: p.id, hostID: START + B, size: B } }));
    const v1 = (c: string, hostID: number) => ({ network: 'n1', containerId: c, ifname: 'eth0', pool: p.id, hostID, size: B, at: '2026-01-01T00:00:00.000Z' });
    fs.writeFileSync(path.join(dir, 'allocations.json'), JSON.stringify({ version: 1, blocks: [v1('a', START + B), v1('ghost', START + 2 * B)] }));
    assert.is(await add(env, 'b', p), START + 3 * B, 'not START (explicit), START+B (record), START+2B (v1 entry of an interrupted ADD)');
    assert.ok(env.log.events.includes('allocations-rebuilt'));
    assert.is(JSON.parse(fs.readFileSync(path.join(dir, 'allocations.json'), 'utf8')).version, 2);
    assert.equal(tableIds(dir), [
      ['a', START + B],
      ['ghost', START + 2 * B],
      ['b', START + 3 * B],
    ]);
    assert.equal(
      explicitOf(dir).map((x) => x.containerId),
      ['static'],
    );
  }));

test("orphan entries (no record): GC's sweep drops blocks and explicit entries, not those of an ADD in flight", () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = pool4();
    await add(env, 'kept', p);
    await allocateBlock(env, key('ghost'), p); // killed before its record
    await recordExplicit(env, key('ghost2'), { uidMappings: [{ containerID: 0, hostID: 5, size: 1 }], gidMappings: [{ containerID: 0, hostID: 5, size: 1 }] });
    await allocateBlock(env, key('inflight'), p);
    await withLock(env.store.lockFor(key('inflight')), { timeoutMs: 1000 }, async () => {
      assert.is(await sweepOrphanAllocations(env), 2);
    });
    assert.equal(
      blocksOf(dir)
        .map((x) => x.containerId)
        .sort(),
      ['inflight', 'kept'],
    );
    assert.equal(explicitOf(dir), []);
    assert.is(env.log.events.filter((e) => e === 'allocation-orphan-dropped').length, 2);
    assert.is(await sweepOrphanAllocations(env), 1, 'inflight, once its lock is free');
  }));

test('rebuild: each record read once, outside the table lock; the merge is linear', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = poolFromConfig({ ...DEFAULTS.allocator, start: START, count: 64 });
    for (let i = 0; i < 20; i++) await add(env, `c${i}`, p);
    fs.rmSync(path.join(dir, 'allocations.json'));
    const store = env.store;
    let lists = 0;
    let gets = 0;
    const lockFree: boolean[] = [];
    useStore(
      env,
      new Proxy(store, {
        get(target, prop) {
          if (prop === 'list') {
            return () => {
              lists++;
              // The table lock must be free while the records are read (flock: one holder per open file).
              lockFree.push(tryTableLock(dir));
              return target.list();
            };
          }
          if (prop === 'get') {
            return (k: AttachmentKey) => {
              gets++;
              return target.get(k);
            };
          }
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }),
    );
    assert.is(await add(env, 'new', p), START + 20 * B);
    assert.equal([lists, gets, lockFree], [1, 0, [true]]);
    assert.is(readTable(dir).table!.blocks.length, 21);
    // Merging a version-1 table into a rebuild: 20000 x 20000 would take seconds if quadratic.
    const many = (n: number, off: number): BlockEntry[] => Array.from({ length: n }, (_, i) => ({ network: 'n', containerId: `c${i + off}`, ifname: 'eth0', pool: 'p', hostID: (i + off) * B, size: B, at: 0 }));
    const t0 = performance.now();
    const merged = withLegacyBlocks({ blocks: many(20000, 0).map(blockRow), explicit: [] }, many(20000, 10000).map(blockRow));
    assert.is(merged.blocks.length, 30000);
    // Linear is ~0.1 s idle; the bound leaves room for a loaded machine (a mutation pass runs at nice 19).
    assert.ok(performance.now() - t0 < 2000, `merge took ${performance.now() - t0} ms`);
  }));

test('an update that is not a rebuild reads no record', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir);
    const p = pool4();
    await add(env, 'a', p);
    const store = env.store;
    useStore(
      env,
      new Proxy(store, {
        get(target, prop) {
          if (prop === 'list' || prop === 'get') return () => assert.unreachable(`store.${String(prop)} called`);
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }),
    );
    const b = await allocateBlock(env, key('b'), p);
    await addExplicit(env, 'x', 1, 1).catch(() => {}); // put() is allowed, list()/get() are not
    await releaseBlock(env, record(key('b'), { allocation: { pool: b.pool, hostID: b.hostID, size: b.size } }));
    assert.is(await updateTable(env, (t) => ({ value: t.blocks.length, changed: false })), 1);
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
