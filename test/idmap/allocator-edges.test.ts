// Allocator behaviour the mutation pass (npm run mutate) found unchecked, through the allocator's
// public functions against a real data dir and record store: a busy table lock is code 11
// naming the table, not "another operation on the same attachment"; the table's rows say when
// (in seconds) and stay sorted by host id, also when rebuilt from the records; a rebuild is
// logged, a first use is not; the table file is rewritten only when it changes; an attachment
// keeps exactly one entry when its kind of mapping or its block size changes; an explicit
// mapping is checked against exactly the blocks it overlaps; a shared block gets one row; what
// needs no table change takes no table lock; swept orphans are logged by name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { openStore } from '../../src/attachment/context';
import { CniError, ErrorCode } from '../../src/cni/errors';
import { DEFAULTS } from '../../src/config/netconf';
import { allocateBlock, recordExplicit, releaseBlock, releaseKey, shareBlock, sweepOrphanAllocations, updateTable, withLegacyBlocks, type AllocatorEnv } from '../../src/idmap/allocator';
import { poolFromConfig, type Pool } from '../../src/idmap/pool';
import { allocatorEnv, storeRecords } from '../../src/idmap/store-records';
import type { AttachmentRecord } from '../../src/generated/types';
import { blockEntry, explicitEntry, readTable, type BlockRow } from '../../src/idmap/allocation-file';
import type { Logger } from '../../src/log/logger';
import { withLock } from '../../src/state/lock';
import type { AttachmentKey } from '../../src/state/names';
import { expectCniError, withTempDir } from '../state/helpers';
import { readyRecord } from './helpers/ready-record';

const B = 65536;
const quietLog: Logger = { error: () => {}, info: () => {}, debug: () => {}, step: () => () => 0, bind: () => {}, close: () => {} };
// The allocator sees the records through its port; the tests write them through the store.
const envFor = (dir: string, lockTimeoutMs: number): AllocatorEnv & { store: ReturnType<typeof openStore> } => {
  const store = openStore(dir);
  return { dataDir: dir, lockTimeoutMs, records: storeRecords(store), log: quietLog, store };
};
const pool = () => poolFromConfig({ ...DEFAULTS.allocator, start: 2_000 * B, count: 4 });

const key = (c: string): AttachmentKey => ({ network: 'n', containerId: c, ifname: 'eth0' });

const record = (k: AttachmentKey, hostID: number): AttachmentRecord => readyRecord(k, { allocation: { pool: pool().id, hostID, size: B } });

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
      assert.not.match(err.message, /another operation/, "the lock is the table's, not the attachment's");
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
    // Names in neither the order of their blocks nor its reverse: the store lists them by name.
    for (const [c, i] of [
      ['a', 1],
      ['b', 2],
      ['c', 0],
    ] as const)
      env.store.put(key(c), record(key(c), p.spans[0]!.start + i * B));
    const next = await allocateBlock(env, key('d'), p); // no table yet: rebuilt, then d added
    assert.is(next.hostID, p.spans[0]!.start + 3 * B);
    assert.equal(
      readTable(dir).table!.blocks.map((r) => [r[1], r[4] - p.spans[0]!.start]),
      [
        ['c', 0],
        ['a', B],
        ['b', 2 * B],
        ['d', 3 * B],
      ],
    );
  }));

test("a version-1 table's blocks merged into a rebuild: the rows sorted by host id, the rebuild's own row kept once", () => {
  const row = (c: string, hostID: number): BlockRow => ['n', c, 'eth0', 'p', hostID, B, 0];
  const merged = withLegacyBlocks({ blocks: [row('r', 2 * B)], explicit: [] }, [row('r', 2 * B), row('old', 0), row('older', 4 * B)]);
  assert.equal(
    merged.blocks.map((r) => [r[1], r[4]]),
    [
      ['old', 0],
      ['r', 2 * B],
      ['older', 4 * B],
    ],
  );
});

/** A logger that keeps the error events with their fields. */
function errorLog(): Logger & { errors: [string, Record<string, unknown> | undefined][] } {
  const errors: [string, Record<string, unknown> | undefined][] = [];
  return { ...quietLog, errors, error: (e, f) => void errors.push([e, f]) };
}

test('a rebuild is logged as an error naming the table, why, and the records it came from; the first use of a data dir is not', () =>
  withTempDir(async (dir) => {
    const p = pool();
    const first = { ...envFor(dir, 2000), log: errorLog() };
    await allocateBlock(first, key('a'), p);
    assert.equal(first.log.errors, [], 'a missing table and no records: a first use');
    // One block and one explicit mapping in the records, the table gone: rebuilt (blocks - explicit would be 0).
    first.store.put(key('a'), record(key('a'), p.spans[0]!.start));
    const m = { uidMappings: [{ containerID: 0, hostID: 100_000, size: 10 }], gidMappings: [{ containerID: 0, hostID: 100_000, size: 10 }] };
    await recordExplicit(first, key('x'), m);
    first.store.put(key('x'), { ...record(key('x'), 0), allocation: undefined, mappings: m });
    fs.rmSync(path.join(dir, 'allocations.json'));
    const missing = { ...envFor(dir, 2000), log: errorLog() };
    await allocateBlock(missing, key('b'), p);
    assert.equal(
      missing.log.errors.map(([e]) => e),
      ['allocations-rebuilt'],
    );
    const fields = missing.log.errors[0]![1]!;
    assert.is(fields.warning, `allocation table ${path.join(dir, 'allocations.json')} missing: rebuilt from 2 records`);
    assert.equal([fields.blocks, fields.explicit], [1, 1]);
    // A damaged table with no records at all is still worth a line.
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, 'allocations.json'), 'not json');
    const damaged = { ...envFor(empty, 2000), log: errorLog() };
    await allocateBlock(damaged, key('c'), p);
    assert.equal(
      damaged.log.errors.map(([e]) => e),
      ['allocations-rebuilt'],
    );
    assert.match(String(damaged.log.errors[0]![1]!.warning), /not valid JSON .*: rebuilt from 0 records$/);
  }));

test('the table file is rewritten only when it changes: not by a read, not by a retried ADD getting its block back', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const p = pool();
    await allocateBlock(env, key('a'), p);
    const table = path.join(dir, 'allocations.json');
    // Every write is a new file renamed over the old one: the file we hold open would be unlinked.
    const held = fs.openSync(table, 'r');
    try {
      assert.is(await updateTable(env, (t) => ({ value: t.blocks.length, changed: false })), 1);
      assert.ok((await allocateBlock(env, key('a'), p)).reused);
      assert.is(fs.fstatSync(held).nlink, 1, 'the table file was replaced');
    } finally {
      fs.closeSync(held);
    }
  }));

test('a pool without room: code 104 whose details say how to make room', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const one = poolFromConfig({ ...DEFAULTS.allocator, start: 2_000 * B, count: 1 });
    await allocateBlock(env, key('a'), one);
    env.store.put(key('a'), record(key('a'), one.spans[0]!.start));
    const err = await expectCniError(ErrorCode.PoolExhausted, () => allocateBlock(env, key('b'), one));
    assert.is(err.details, 'DEL unused attachments, or enlarge the pool (allocator.count/size, or the subidOwner entries)');
  }));

test('an attachment moving from an explicit mapping to the allocator keeps no explicit entry, also when it gets its old block back', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const p = pool();
    const m = { uidMappings: [{ containerID: 0, hostID: 100_000, size: 10 }], gidMappings: [{ containerID: 0, hostID: 100_000, size: 10 }] };
    await recordExplicit(env, key('a'), m);
    await allocateBlock(env, key('a'), p);
    assert.equal(readTable(dir).table!.explicit, []);
    // A table holding both for one attachment (its block, and an explicit entry): the block comes back, the entry goes.
    await recordExplicit(env, key('b'), m);
    await updateTable(env, (t) => {
      t.blocks.push(['n', 'b', 'eth0', p.id, p.spans[0]!.start + B, B, 0]);
      return { value: undefined, changed: true };
    });
    const again = await allocateBlock(env, key('b'), p);
    assert.equal([again.reused, again.hostID], [true, p.spans[0]!.start + B]);
    assert.equal(readTable(dir).table!.explicit.map(explicitEntry), []);
  }));

test('a retried ADD after the block size changed gets a new block of the new size; its old block goes', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const small = pool();
    const big = poolFromConfig({ ...DEFAULTS.allocator, start: 2_000 * B, count: 2, blockSize: 2 * B }); // the same ids, in blocks twice as large
    const first = await allocateBlock(env, key('a'), small);
    const second = await allocateBlock(env, key('a'), big);
    assert.equal([second.reused, second.size], [false, 2 * B]);
    assert.equal(
      readTable(dir).table!.blocks.map((r) => [r[1], r[4], r[5]]),
      [['a', second.hostID, 2 * B]],
    );
    assert.is(first.hostID % (2 * B), 0, 'the old block would have fit the new pool: only its size tells them apart');
  }));

test('a block taken below others is inserted in host-id order', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const p = pool();
    for (const c of ['a', 'b', 'c']) await allocateBlock(env, key(c), p);
    await updateTable(env, (t) => {
      t.blocks = t.blocks.filter((r) => r[1] !== 'a');
      return { value: undefined, changed: true };
    });
    await allocateBlock(env, key('d'), p); // the lowest block, freed by a
    assert.equal(
      readTable(dir).table!.blocks.map((r) => [r[1], r[4] - p.spans[0]!.start]),
      [
        ['d', 0],
        ['b', B],
        ['c', 2 * B],
      ],
    );
  }));

test('a retried ADD after the pool moved gets a block in the new pool, not its old one', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const old = pool();
    const moved = poolFromConfig({ ...DEFAULTS.allocator, start: 3_000 * B, count: 4 });
    await allocateBlock(env, key('a'), old);
    const again = await allocateBlock(env, key('a'), moved);
    assert.equal([again.reused, again.pool, again.hostID], [false, moved.id, 3_000 * B]);
  }));

test('a retried ADD keeps its block only while it lies inside the pool: the last block stays, a block past a shrunk pool goes', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const two = poolFromConfig({ ...DEFAULTS.allocator, start: 2_000 * B, count: 2 });
    await allocateBlock(env, key('x'), two);
    const last = await allocateBlock(env, key('y'), two);
    assert.is(last.hostID, 2_001 * B);
    assert.equal([(await allocateBlock(env, key('y'), two)).reused, last.hostID], [true, 2_001 * B], "the pool's last block fits it");
    await updateTable(env, (t) => {
      t.blocks = t.blocks.filter((r) => r[1] !== 'x');
      return { value: undefined, changed: true };
    });
    const one = poolFromConfig({ ...DEFAULTS.allocator, start: 2_000 * B, count: 1 });
    const moved = await allocateBlock(env, key('y'), one);
    assert.equal([moved.reused, moved.hostID], [false, 2_000 * B]);
  }));

const explicitAt = (hostID: number, size: number) => ({ uidMappings: [{ containerID: 0, hostID, size }], gidMappings: [{ containerID: 0, hostID, size }] });

test("an explicit mapping is checked against exactly the other attachments' blocks it overlaps (ranges touching a block do not)", () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const p = pool();
    const a = await allocateBlock(env, key('a'), p); // [a.hostID, a.hostID + B)
    const heldFor = async (c: string, hostID: number, size: number) => {
      let held: unknown;
      await recordExplicit(env, key(c), explicitAt(hostID, size), (h) => void (held = h));
      return (held as { containerId: string }[]).map((b) => b.containerId);
    };
    assert.equal(await heldFor('below', a.hostID - 10, 10), [], 'ends where the block starts');
    assert.equal(await heldFor('above', a.hostID + B, 10), [], 'starts where the block ends');
    assert.equal(await heldFor('first', a.hostID - 10, 11), ['a'], "its last id is the block's first");
    assert.equal(await heldFor('last', a.hostID + B - 1, 10), ['a'], "its first id is the block's last");
    assert.equal(await heldFor('a', a.hostID, 10), [], "its own block is not another attachment's");
  }));

test("recording an explicit mapping drops the attachment's block and earlier explicit entry: one entry left", () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    await allocateBlock(env, key('a'), pool());
    await recordExplicit(env, key('a'), explicitAt(100_000, 10));
    await recordExplicit(env, key('a'), explicitAt(200_000, 10));
    const t = readTable(dir).table!;
    assert.equal(t.blocks, []);
    assert.equal(
      t.explicit.map((x) => [x[1], x[3]]),
      [['a', explicitEntry(t.explicit[0]!).ranges]],
    );
    assert.match(JSON.stringify(t.explicit[0]![3]), /200000/);
  }));

test("a shared block: one row for the joining attachment at the owner's host id, in host-id order, however often it is shared", () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const p = pool();
    const low = await allocateBlock(env, key('low'), p);
    const owner = await allocateBlock(env, key('owner'), p);
    await allocateBlock(env, key('high'), p);
    const ref = { pool: owner.pool, hostID: owner.hostID, size: owner.size };
    await shareBlock(env, key('joiner'), ref);
    const table = path.join(dir, 'allocations.json');
    const held = fs.openSync(table, 'r');
    try {
      await shareBlock(env, key('joiner'), ref); // a retried ADD of the joiner
      assert.is(fs.fstatSync(held).nlink, 1, 'nothing to write the second time');
    } finally {
      fs.closeSync(held);
    }
    const rows = readTable(dir).table!.blocks.map((r) => [r[1], r[4] - low.hostID, r[5]]);
    assert.equal(rows, [
      ['low', 0, B],
      ['owner', B, B],
      ['joiner', B, B],
      ['high', 2 * B, B],
    ]);
    const at = blockEntry(readTable(dir).table!.blocks[2]!).at;
    assert.ok(Math.abs(at - Date.now() / 1000) < 60, `at ${at}`);
  }));

test('sharing the lowest block, and sharing into an attachment with a leftover block of its own, both add the shared row', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const p = pool();
    const owner = await allocateBlock(env, key('owner'), p); // the lowest block
    await allocateBlock(env, key('joiner'), p); // an interrupted ADD of the joiner, before it joined
    await shareBlock(env, key('joiner'), { pool: owner.pool, hostID: owner.hostID, size: owner.size });
    const rows = readTable(dir).table!.blocks.map((r) => [r[1], r[4] - owner.hostID]);
    assert.equal(rows, [
      ['owner', 0],
      ['joiner', 0],
      ['joiner', B],
    ]);
    await shareBlock(env, key('first'), { pool: owner.pool, hostID: owner.hostID - B, size: owner.size }); // below every row
    assert.equal(readTable(dir).table!.blocks[0]![1], 'first');
  }));

test('releasing what the table does not hold changes nothing: releaseBlock of a block gone already, releaseKey of an unknown attachment', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const p = pool();
    const a = await allocateBlock(env, key('a'), p);
    const held = fs.openSync(path.join(dir, 'allocations.json'), 'r');
    try {
      await releaseBlock(env, record(key('gone'), a.hostID)); // another attachment's block: not gone's entry
      assert.is(await releaseKey(env, key('never')), false);
      assert.is(fs.fstatSync(held).nlink, 1, 'the table file was rewritten');
    } finally {
      fs.closeSync(held);
    }
    assert.equal(
      readTable(dir).table!.blocks.map((r) => r[1]),
      ['a'],
    );
    assert.is(await releaseKey(env, key('a')), true);
    assert.equal(readTable(dir).table!.blocks, []);
  }));

test('releaseKey: an attachment with only an explicit entry is released; with the table unreadable, an attachment the records do not name is not', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    await recordExplicit(env, key('x'), explicitAt(100_000, 10));
    assert.is(await releaseKey(env, key('x')), true);
    assert.equal(readTable(dir).table!.explicit, []);
    fs.writeFileSync(path.join(dir, 'allocations.json'), 'damaged');
    assert.is(await releaseKey(env, key('x')), false, 'rebuilt from the records, which hold nothing of x');
  }));

test('the orphan sweep: nothing to do with the table unreadable; never the entry of the attachment sweeping', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    await allocateBlock(env, key('self'), pool()); // no record: an orphan, but it is ours
    await allocateBlock(env, key('orphan'), pool());
    assert.is(await sweepOrphanAllocations(env, key('self')), 1);
    assert.equal(
      readTable(dir).table!.blocks.map((r) => r[1]),
      ['self'],
    );
    await recordExplicit(env, key('orphan-explicit'), explicitAt(100_000, 10)); // an explicit entry alone
    assert.is(await sweepOrphanAllocations(env, key('self')), 1);
    assert.equal(readTable(dir).table!.explicit, [], 'dropped on disk too');
    fs.writeFileSync(path.join(dir, 'allocations.json'), 'damaged');
    assert.is(await sweepOrphanAllocations(env), 0);
  }));

test('what needs no table change takes no table lock: releasing an adopt-mode record, releaseKey of an unknown attachment, a sweep with no orphans', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 50);
    await allocateBlock(env, key('a'), pool());
    env.store.put(key('a'), record(key('a'), pool().spans[0]!.start));
    const held = await holdLock(path.join(dir, 'allocations.lock'), 3000);
    try {
      await releaseBlock(env, { ...record(key('adopted'), 0), allocation: undefined, mode: 'adopt' });
      assert.is(await releaseKey(env, key('never')), false);
      assert.is(await sweepOrphanAllocations(env), 0);
    } finally {
      held.release();
    }
  }));

test('the orphan sweep: an orphan whose ADD is in flight stays, and the table is not rewritten; a dropped one is logged by name', () =>
  withTempDir(async (dir) => {
    const env = { ...envFor(dir, 2000), log: errorLog() };
    await allocateBlock(env, key('busy'), pool());
    const file = fs.openSync(path.join(dir, 'allocations.json'), 'r');
    try {
      await withLock(env.store.lockFor(key('busy')), { timeoutMs: 1000 }, async () => {
        assert.is(await sweepOrphanAllocations(env), 0);
      });
      assert.is(fs.fstatSync(file).nlink, 1, 'the table file was rewritten');
    } finally {
      fs.closeSync(file);
    }
    assert.equal(env.log.errors, []);
    assert.is(await sweepOrphanAllocations(env), 1);
    assert.equal(env.log.errors, [['allocation-orphan-dropped', { warning: 'ids of n/busy/eth0 had no record (interrupted ADD or DEL): released' }]]);
  }));

test('allocatorEnv: the data dir, lock timeout, store and log it is given', () => {
  const store = openStore('/nonexistent-userns-netns-test');
  const env = allocatorEnv({ dataDir: '/d', lockTimeoutMs: 7 }, store, quietLog);
  assert.equal([env.dataDir, env.lockTimeoutMs, env.records.hasRecord({ network: 'n', containerId: 'c', ifname: 'eth0' }), env.log === quietLog], ['/d', 7, false, true]);
});

// A pool of two spans with a gap between them, as a subidOwner with two /etc/subuid lines gives.
const twoSpans = (): Pool => ({
  ...pool(),
  spans: [
    { start: 2_000 * B, end: 2_002 * B },
    { start: 2_010 * B, end: 2_012 * B },
  ],
  blocks: 4,
});

test("a retried ADD gets back its block in a pool's second span, though the first span has room", () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const p = twoSpans();
    for (const c of ['a', 'b', 'c']) await allocateBlock(env, key(c), p);
    assert.is((await allocateBlock(env, key('c'), p)).hostID, 2_010 * B, 'c took the first block of the second span');
    await updateTable(env, (t) => {
      t.blocks = t.blocks.filter((r) => r[1] !== 'a'); // the first span's lowest block is free again
      return { value: undefined, changed: true };
    });
    const again = await allocateBlock(env, key('c'), p);
    assert.equal([again.reused, again.hostID], [true, 2_010 * B]);
  }));

test('a retried ADD whose row in the table is not aligned to the block size (a table edited by hand) gets an aligned block', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const p = pool();
    await allocateBlock(env, key('a'), p);
    await updateTable(env, (t) => {
      t.blocks[0]![4] += B / 2; // inside the pool and of the pool's size, but astride two blocks
      return { value: undefined, changed: true };
    });
    const again = await allocateBlock(env, key('a'), p);
    assert.equal([again.reused, again.hostID % B], [false, 0]);
    assert.equal(
      readTable(dir).table!.blocks.map((r) => [r[1], r[4]]),
      [['a', again.hostID]],
    );
  }));

test('a retried ADD whose config moved to a full pool: code 104, and its old block is released all the same', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const one = poolFromConfig({ ...DEFAULTS.allocator, start: 3_000 * B, count: 1 });
    await allocateBlock(env, key('a'), pool()); // the ADD that was killed before its record
    await allocateBlock(env, key('full'), one);
    env.store.put(key('full'), readyRecord(key('full'), { allocation: { pool: one.id, hostID: 3_000 * B, size: B } }));
    await expectCniError(ErrorCode.PoolExhausted, () => allocateBlock(env, key('a'), one));
    assert.equal(
      readTable(dir).table!.blocks.map((r) => r[1]),
      ['full'],
      "a's block in the old pool is free on disk",
    );
  }));

test('a full pool whose orphan sweep frees only ids outside it: code 104, not an empty answer', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const one = poolFromConfig({ ...DEFAULTS.allocator, start: 2_000 * B, count: 1 });
    await allocateBlock(env, key('live'), one);
    env.store.put(key('live'), record(key('live'), 2_000 * B));
    await recordExplicit(env, key('orphan'), explicitAt(100_000, 10)); // no record: an interrupted ADD's entry
    await expectCniError(ErrorCode.PoolExhausted, () => allocateBlock(env, key('b'), one));
    assert.equal(readTable(dir).table!.explicit, [], 'the sweep ran and dropped the orphan');
  }));

test('sharing a block already shared leaves the table file as it is', () =>
  withTempDir(async (dir) => {
    const env = envFor(dir, 2000);
    const a = await allocateBlock(env, key('owner'), pool());
    await shareBlock(env, key('joiner'), a);
    const file = fs.openSync(path.join(dir, 'allocations.json'), 'r');
    try {
      await shareBlock(env, key('joiner'), a);
      assert.is(fs.fstatSync(file).nlink, 1, 'the table file was rewritten');
    } finally {
      fs.closeSync(file);
    }
  }));

test.run();
