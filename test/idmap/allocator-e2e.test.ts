// The allocator end to end through the built plugin, real kernel, real bridge + host-local:
// parallel ADDs, exhaustion, damaged tables, rollback, subid pools.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withNet } from '../helpers/host';
import { B, WINDOW, allocConf, freshPoolStart, logEvents, nsMap, recordFiles, recordOf, snapshot, spawnPluginAsync, tableBlocks } from './helpers/e2e';

test('40 ADDs as parallel processes: 40 distinct aligned blocks; after all DELs the pool is empty and the next ADD gets the lowest', async () => {
  await withNet(async (net) => {
    const P = freshPoolStart();
    // 40 node processes at once: on a 2-CPU test box under load, node startup alone takes
    // seconds and a lock holder gets preempted, so the queue on the table lock can pass the
    // default 10 s; this test is about distinct blocks, not that deadline (lock.test covers it).
    const conf = allocConf(net, { start: P, count: WINDOW }, { lockTimeoutMs: 60_000 });
    const atts = Array.from({ length: 40 }, () => net.attachment());
    const t0 = performance.now();
    const adds = await Promise.all(atts.map((a) => spawnPluginAsync({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netnsPin }, conf)));
    const addWall = performance.now() - t0;
    try {
      adds.forEach((r, i) => {
        assert.is(r.status, 0, `ADD ${i}: ${r.stdout}${r.stderr}`);
      });
      const starts = atts.map((a) => {
        const rec = recordOf(net, a.containerId);
        const uid = nsMap(a.usernsPin, 'uid_map');
        assert.equal(uid, [`0 ${rec.allocation.hostID} ${B}`], 'userns has exactly the recorded block');
        assert.equal(nsMap(a.usernsPin, 'gid_map'), uid);
        return rec.allocation.hostID as number;
      });
      const sorted = [...starts].sort((x, y) => x - y);
      assert.is(new Set(starts).size, 40, 'distinct');
      for (const s of sorted) assert.ok(s % B === 0 && s >= P && s + B <= P + WINDOW * B, `aligned, inside the pool: ${s}`);
      // distinct + aligned + same size = non-overlapping; and lowest-first = the first 40 blocks.
      assert.equal(
        sorted,
        Array.from({ length: 40 }, (_, i) => P + i * B),
      );
      assert.equal(
        tableBlocks(net).map(([, h]) => h),
        sorted,
      );
    } finally {
      const t1 = performance.now();
      const dels = await Promise.all(atts.map((a) => spawnPluginAsync({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netnsPin }, conf)));
      console.error(`    40 parallel ADD: ${addWall.toFixed(0)} ms wall, 40 parallel DEL: ${(performance.now() - t1).toFixed(0)} ms wall`);
      dels.forEach((r, i) => {
        assert.is(r.status, 0, `DEL ${i}: ${r.stdout}${r.stderr}`);
      });
    }
    assert.equal(tableBlocks(net), []);
    assert.equal(recordFiles(net), []);
    for (const step of ['allocate', 'allocation-table-locked']) {
      const ms = logEvents(net)
        .filter((e) => e.step === step)
        .map((e) => e.durationMs as number)
        .sort((x, y) => x - y);
      console.error(`    ${step} under contention: median ${ms[20]} ms, max ${ms[39]} ms`);
    }
    const next = net.attachment();
    assert.is(net.run('ADD', next, conf).status, 0);
    assert.equal(nsMap(next.usernsPin, 'uid_map'), [`0 ${P} ${B}`]);
    assert.is(net.run('DEL', next, conf).status, 0);
  });
});

for (const [what, content] of [
  ['truncated', '{"version":1,"blocks":[{"network":"x","containerId":"'],
  ['garbage', 'garbage\u0000\u0001'],
  ['emptied', ''],
] as const) {
  test(`${what} allocation file: rebuilt from the records with a warning; the next ADD never duplicates a block a record holds`, async () => {
    await withNet(async (net) => {
      const P = freshPoolStart();
      const conf = allocConf(net, { start: P, count: 4 });
      const [a, b, c, d, e] = [net.attachment(), net.attachment(), net.attachment(), net.attachment(), net.attachment()];
      for (const x of [a, b, c]) assert.is(net.run('ADD', x, conf).status, 0);
      assert.is(net.run('DEL', x0(a), conf).status, 0); // block P free, P+B and P+2B held by records
      writeFileSync(join(net.dataDir, 'allocations.json'), content);
      for (const x of [d, e]) {
        const r = net.run('ADD', x, conf);
        assert.is(r.status, 0, r.stdout);
      }
      assert.equal(
        [d, e].map((x) => recordOf(net, x.containerId).allocation.hostID),
        [P, P + 3 * B],
      );
      assert.equal(nsMap(d.usernsPin, 'uid_map'), [`0 ${P} ${B}`]);
      const warn = logEvents(net).find((ev) => ev.event === 'allocations-rebuilt');
      assert.ok(warn, 'warning logged');
      assert.match(String(warn!.warning), 'rebuilt from 2 records');
      assert.equal(
        tableBlocks(net).map(([, h]) => h),
        [P, P + B, P + 2 * B, P + 3 * B],
      );
      for (const x of [b, c, d, e]) assert.is(net.run('DEL', x, conf).status, 0);
      assert.equal(tableBlocks(net), []);
    });
  });
}
const x0 = <T>(x: T) => x;

test('pool of 2 blocks: the third ADD fails cleanly naming the pool and its size, and succeeds after one DEL', async () => {
  await withNet(async (net) => {
    const P = freshPoolStart();
    const conf = allocConf(net, { start: P, count: 2 });
    const [a, b, c] = [net.attachment(), net.attachment(), net.attachment()];
    for (const x of [a, b]) assert.is(net.run('ADD', x, conf).status, 0);
    const before = snapshot(net);
    const r = net.run('ADD', c, conf);
    assert.is(r.status, 1);
    assert.is(r.json.code, 104);
    assert.match(r.json.msg, `config pool ${P}-${P + 2 * B - 1} is exhausted: all 2 blocks of 65536 ids (131072 ids) are in use`);
    assert.equal(snapshot(net), before, 'no pin, veth, reservation, record or table entry');
    assert.is(recordOf(net, c.containerId), undefined);

    assert.is(net.run('DEL', a, conf).status, 0);
    const again = net.run('ADD', c, conf);
    assert.is(again.status, 0, again.stdout);
    assert.equal(nsMap(c.usernsPin, 'uid_map'), [`0 ${P} ${B}`]);
    for (const x of [b, c]) assert.is(net.run('DEL', x, conf).status, 0);
    assert.equal(tableBlocks(net), []);
  });
});

test('a failed ADD rolls back and releases its block', async () => {
  await withNet(async (net) => {
    const P = freshPoolStart();
    const conf = allocConf(net, { start: P, count: 2 }, { delegates: [net.bridgeDelegate({ ipam: { type: 'no-such-ipam' } })] });
    const before = snapshot(net);
    const r = net.run('ADD', net.attachment(), conf);
    assert.is.not(r.status, 0);
    assert.equal(tableBlocks(net), []);
    assert.equal(recordFiles(net), []);
    assert.equal({ ...snapshot(net), veths: 0 }, { ...before, veths: 0 });
  });
});

test("subidOwner: the pool is the owner's entries in both files (paths from the config), other owners kept clear", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'uxn-subid-'));
  try {
    await withNet(async (net) => {
      const P = freshPoolStart();
      writeFileSync(join(dir, 'subuid'), `podman:100000:65536\nuxnet:${P}:${4 * B}\n`);
      writeFileSync(join(dir, 'subgid'), `podman:100000:65536\nuxnet:${P}:${4 * B}\nother:${P}:${B}\n`);
      const conf = allocConf(net, { subidOwner: 'uxnet', subuidFile: join(dir, 'subuid'), subgidFile: join(dir, 'subgid') });
      const a = net.attachment();
      const r = net.run('ADD', a, conf);
      assert.is(r.status, 0, r.stdout);
      assert.equal(recordOf(net, a.containerId).allocation, { pool: 'subid:uxnet', hostID: P + B, size: B });
      assert.equal(nsMap(a.usernsPin, 'gid_map'), [`0 ${P + B} ${B}`]);
      assert.is(net.run('DEL', a, conf).status, 0);

      const bad = net.run('ADD', net.attachment(), { ...conf, allocator: { ...(conf.allocator as object), subidOwner: 'podman' } });
      assert.is(bad.json?.code, 7);
      assert.match(bad.json.msg, 'allocator.subidOwner: "podman" has no usable block of 65536 ids aligned to 65536');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
