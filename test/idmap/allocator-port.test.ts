// The allocator over an in-memory fake of its records port (helpers/fake-records.ts), no record
// store and no root: it asks only what the port offers (holds, keys, hasRecord, a key's lock),
// and only when it must - a table rebuild, an orphan sweep. The table is its own file in a
// private temp dir.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode } from '../../src/cni/errors';
import { DEFAULTS } from '../../src/config/netconf';
import { allocateBlock, recordExplicit, releaseKey, sweepOrphanAllocations, type AllocatorEnv } from '../../src/idmap/allocator';
import { blockEntry, explicitEntry, keyId, readTable } from '../../src/idmap/allocation-file';
import { poolFromConfig } from '../../src/idmap/pool';
import type { Logger } from '../../src/log/logger';
import type { AttachmentKey } from '../../src/state/names';
import { expectCniError, withTempDir } from '../state/helpers';
import { FakeRecords } from './helpers/fake-records';

const B = 65536;
const START = 2_000 * B;
const key = (c: string): AttachmentKey => ({ network: 'n1', containerId: c, ifname: 'eth0' });
const poolOf = (count: number) => poolFromConfig({ ...DEFAULTS.allocator, start: START, count });

function envOver(dir: string, records: FakeRecords): AllocatorEnv & { events: string[] } {
  const events: string[] = [];
  const push = (e: string) => void events.push(e);
  const log: Logger = { error: push, info: push, debug: () => {}, step: () => () => 0, bind: () => {}, close: () => {} };
  return { dataDir: path.join(dir, 'data'), lockTimeoutMs: 2000, records, log, events };
}

const blocksIn = (env: AllocatorEnv) =>
  readTable(env.dataDir)
    .table!.blocks.map(blockEntry)
    .map((b) => [b.containerId, b.hostID]);

/** An allocation followed by its record, as ADD does: the table first. */
async function addWithRecord(env: AllocatorEnv, records: FakeRecords, c: string, count = 4): Promise<number> {
  const a = await allocateBlock(env, key(c), poolOf(count));
  records.withBlock(key(c), { pool: a.pool, hostID: a.hostID, size: a.size });
  return a.hostID;
}

test('over the fake: lowest free first, and an update that is no rebuild asks the records nothing', () =>
  withTempDir(async (dir) => {
    const records = new FakeRecords();
    const env = envOver(dir, records);
    assert.is(await addWithRecord(env, records, 'a'), START, 'first use: the table is missing and the fake has nothing to rebuild');
    const asked = { ...records.calls };
    assert.is(await addWithRecord(env, records, 'b'), START + B);
    assert.is(await addWithRecord(env, records, 'c'), START + 2 * B);
    assert.equal(records.calls, asked, 'a usable table: no record was looked at');
    assert.equal(env.events, []);
  }));

test("over the fake: a missing table is rebuilt from holds() once - blocks, explicit ranges and a corrupt record's block stay taken", () =>
  withTempDir(async (dir) => {
    const records = new FakeRecords()
      .withBlock(key('a'), { pool: 'p', hostID: START, size: B })
      .withExplicit(key('static'), START + B, 10)
      .withCorrupt(key('broken'), { pool: 'p', hostID: START + 2 * B, size: B })
      .withCorrupt(key('unreadable'));
    const env = envOver(dir, records);
    assert.is(await addWithRecord(env, records, 'new'), START + 3 * B, 'every lower block is held by a record');
    assert.is(records.calls.holds, 1, 'each record read once');
    assert.ok(env.events.includes('allocations-rebuilt'), env.events.join());
    assert.equal(
      blocksIn(env).sort(),
      [
        ['a', START],
        ['broken', START + 2 * B],
        ['new', START + 3 * B],
      ].sort(),
    );
    assert.equal(
      readTable(env.dataDir)
        .table!.explicit.map(explicitEntry)
        .map((x) => [x.containerId, x.ranges]),
      [['static', [START + B, 10]]],
    );
    await expectCniError(ErrorCode.PoolExhausted, () => allocateBlock(env, key('more'), poolOf(4)));
  }));

test('over the fake: the orphan sweep drops entries with no record whose lock is free, and lets their lock files go', () =>
  withTempDir(async (dir) => {
    const records = new FakeRecords();
    const env = envOver(dir, records);
    await addWithRecord(env, records, 'kept');
    await allocateBlock(env, key('ghost'), poolOf(4)); // an ADD killed before its record
    await recordExplicit(env, key('ghost2'), { uidMappings: [{ containerID: 0, hostID: 5, size: 1 }], gidMappings: [{ containerID: 0, hostID: 5, size: 1 }] });
    await allocateBlock(env, key('inflight'), poolOf(4));
    const dropped = await records.whileLocked(key('inflight'), () => sweepOrphanAllocations(env));
    assert.is(dropped, 2);
    assert.equal(
      blocksIn(env)
        .map(([c]) => c)
        .sort(),
      ['inflight', 'kept'],
    );
    assert.equal(readTable(env.dataDir).table!.explicit, []);
    assert.equal(records.locksRemoved.sort(), [key('ghost'), key('ghost2')].map(keyId).sort());
    assert.is(records.calls.keys, 1, 'the keys listed once, names only');
    assert.is(await sweepOrphanAllocations(env), 1, 'inflight, once its lock is free');
  }));

test('over the fake: a record written between the listing and the lock keeps its entry', () =>
  withTempDir(async (dir) => {
    const records = new FakeRecords();
    const env = envOver(dir, records);
    await allocateBlock(env, key('late'), poolOf(4));
    const realKeys = records.keys.bind(records);
    // The listing sees no record; by the time the sweep holds the key's lock, the ADD saved it.
    records.keys = () => {
      const k = realKeys();
      records.withBlock(key('late'), { pool: 'p', hostID: START, size: B });
      return k;
    };
    assert.is(await sweepOrphanAllocations(env), 0);
    assert.equal(blocksIn(env), [['late', START]]);
  }));

test("over the fake: a full pool sweeps orphans (never the asking key's own) before answering exhausted", () =>
  withTempDir(async (dir) => {
    const records = new FakeRecords();
    const env = envOver(dir, records);
    await addWithRecord(env, records, 'a', 2);
    await allocateBlock(env, key('ghost'), poolOf(2));
    assert.is(await addWithRecord(env, records, 'b', 2), START + B, "the ghost's block, once swept");
    assert.ok(env.events.includes('allocation-orphan-dropped'));
    assert.is(records.calls.whenUnlocked, 1);
    await expectCniError(ErrorCode.PoolExhausted, () => allocateBlock(env, key('c'), poolOf(2)));
  }));

test('over the fake: release by key needs no record and no lock of the port', () =>
  withTempDir(async (dir) => {
    const records = new FakeRecords();
    const env = envOver(dir, records);
    await allocateBlock(env, key('a'), poolOf(4));
    const asked = { ...records.calls };
    assert.is(await releaseKey(env, key('a')), true);
    assert.is(await releaseKey(env, key('a')), false);
    assert.equal(records.calls, asked);
    assert.ok(fs.existsSync(path.join(env.dataDir, 'allocations.json')));
    assert.equal(blocksIn(env), []);
  }));

test.run();
