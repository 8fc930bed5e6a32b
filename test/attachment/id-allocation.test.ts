// The ids of a create-mode ADD in the allocation table and back out (mapping-for-add.ts,
// release-ids.ts) in process: an explicit mapping lands as its host ranges (refused where it
// overlaps another attachment's, unless allowSharedRanges), else one block of the pool, the
// same range for uids and gids; teardown's release drops exactly this attachment's entry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AttachmentContext } from '../../src/attachment/context';
import { resolveMapping } from '../../src/attachment/mapping-for-add';
import { releaseAllocation } from '../../src/attachment/release-ids';
import { CniError } from '../../src/cni/errors';
import type { AttachmentRecord } from '../../src/generated/types';
import { blockEntry, explicitEntry, readTable } from '../../src/idmap/allocation-file';
import { fixture, recordFor, type Fixture } from './helpers/attachment-fixture';

const B = 65536;
const START = 20_000 * B;
const EXPLICIT = { uidMappings: [{ containerID: 0, hostID: 30_000 * B, size: B }], gidMappings: [{ containerID: 0, hostID: 30_001 * B, size: B }] };

async function withFixture(extra: Record<string, unknown>, fn: (f: Fixture) => Promise<void>): Promise<void> {
  const f = fixture(['dela'], extra);
  try {
    await fn(f);
  } finally {
    f.cleanup();
  }
}

const fresh = (ctx: AttachmentContext): AttachmentRecord => recordFor(ctx, { path: '/run/netns/x', pin: 'intent' }, { path: '/run/userns/x', pin: 'intent' }, { phase: 'adding' });

function table(f: Fixture) {
  const t = readTable(f.dataDir).table;
  assert.ok(t, 'a readable table');
  return { blocks: t.blocks.map(blockEntry).map(({ at: _at, ...e }) => e), explicit: t.explicit.map(explicitEntry) };
}

test('no explicit mapping: one block of the pool, the same range for uids and gids, in the record and the table; released by key', async () => {
  await withFixture({ allocator: { start: START, count: 4 } }, async (f) => {
    const ctx = f.context();
    const rec = fresh(ctx);
    const got = await resolveMapping(ctx, rec);
    const range = { containerID: 0, hostID: START, size: B };
    assert.equal(got, { mappings: { uidMappings: [range], gidMappings: [range] }, source: 'allocator' });
    assert.is.not(got.mappings.gidMappings[0], got.mappings.uidMappings[0], 'two ranges, not one object shared by both maps');
    assert.equal(rec.allocation, { pool: rec.allocation?.pool, hostID: START, size: B });
    assert.type(rec.allocation?.pool, 'string');
    assert.equal(rec.mappings, undefined);
    assert.equal(table(f).blocks, [{ network: f.network, containerId: ctx.key.containerId, ifname: 'eth0', pool: rec.allocation!.pool, hostID: START, size: B }]);

    const next = f.context();
    const second = await resolveMapping(next, fresh(next));
    assert.is(second.mappings.uidMappings[0]!.hostID, START + B, 'the next attachment gets the next block');

    await releaseAllocation(rec, ctx);
    assert.equal(
      table(f).blocks.map((b) => b.containerId),
      [next.key.containerId],
      "only this attachment's block goes",
    );
  });
});

test('an explicit mapping: recorded as its host ranges (the allocator keeps clear of them), in the record; released by key', async () => {
  await withFixture({ idMappings: EXPLICIT, allocator: { start: START, count: 4 } }, async (f) => {
    const ctx = f.context();
    const rec = fresh(ctx);
    const got = await resolveMapping(ctx, rec);
    assert.equal(got.mappings, EXPLICIT);
    assert.is(got.source, 'config', 'the static config');
    assert.equal(rec.mappings, EXPLICIT);
    assert.equal(rec.allocation, undefined);
    assert.equal(table(f), { blocks: [], explicit: [{ network: f.network, containerId: ctx.key.containerId, ifname: 'eth0', ranges: [30_000 * B, B, 30_001 * B, B] }] });

    await releaseAllocation(rec, ctx);
    assert.equal(table(f), { blocks: [], explicit: [] });
  });
});

test('an explicit mapping over a block the allocator gave another attachment is refused, unless allowSharedRanges', async () => {
  await withFixture({ allocator: { start: START, count: 4 } }, async (f) => {
    const allocated = f.context();
    await resolveMapping(allocated, fresh(allocated));
    const overlapping = { uidMappings: [{ containerID: 0, hostID: START + 100, size: 10 }] };
    const explicit = f.context(undefined, { idMappings: overlapping });
    const rec = fresh(explicit);
    const err = await resolveMapping(explicit, rec).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(err, CniError);
    assert.match((err as CniError).message, `idMappings: uidMappings[0] (containerID 0, hostID ${START + 100}, size 10) overlaps host ids ${START}-${START + B - 1}`);
    assert.match((err as CniError).message, allocated.key.containerId, 'names the attachment holding them');
    assert.equal(rec.mappings, undefined, 'nothing recorded for the refused one');
    assert.equal(table(f).explicit, []);

    const shared = f.context(undefined, { idMappings: overlapping, allocator: { start: START, count: 4, allowSharedRanges: true } });
    await resolveMapping(shared, fresh(shared));
    assert.is(table(f).explicit.length, 1, 'allowed to share');
  });
});

test('an adopt-mode record holds no ids: its release leaves the table alone', async () => {
  await withFixture({ allocator: { start: START, count: 4 } }, async (f) => {
    const ctx = f.context();
    await resolveMapping(ctx, fresh(ctx));
    const before = table(f);
    const adopted = recordFor(ctx, { path: '/proc/1/ns/net', pin: 'none' }, { path: '', pin: 'none' }, { mode: 'adopt' });
    await releaseAllocation(adopted, ctx);
    assert.equal(table(f), before, 'same key, but no block or mapping of its own');
  });
});

test.run();
