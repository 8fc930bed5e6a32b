// Interval arithmetic and pool construction: pure functions, temp files for /etc/subuid.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode } from '../../src/cni/errors';
import { DEFAULTS, type AllocatorConfig } from '../../src/config/netconf';
import { countAlignedBlocks, intersect, lowestFreeBlock, normalize, subtract } from '../../src/idmap/ranges';
import { parseSubid, readSubid } from '../../src/idmap/subid';
import { DEFAULT_POOL_START, poolFromConfig } from '../../src/idmap/pool';
import { expectCniError } from '../state/helpers';

const B = 65536;
const S = (start: number, end: number) => ({ start, end });

test('normalize merges overlapping and touching spans and drops empty ones', () => {
  assert.equal(normalize([S(10, 20), S(0, 5), S(5, 8), S(15, 30), S(40, 40)]), [S(0, 8), S(10, 30)]);
});

test('subtract and intersect', () => {
  assert.equal(subtract([S(0, 100)], [S(10, 20), S(50, 60), S(90, 200)]), [S(0, 10), S(20, 50), S(60, 90)]);
  assert.equal(subtract([S(0, 10)], [S(0, 10)]), []);
  assert.equal(intersect([S(0, 50), S(60, 100)], [S(40, 70)]), [S(40, 50), S(60, 70)]);
  assert.equal(intersect([S(0, 10)], [S(10, 20)]), []);
});

test('aligned blocks: counted only when whole and aligned', () => {
  assert.is(countAlignedBlocks([S(0, 4 * B)], B), 4);
  assert.is(countAlignedBlocks([S(100000, 100000 + B)], B), 0); // podman's usual 100000:65536
  assert.is(countAlignedBlocks([S(100000, 100000 + 3 * B)], B), 2); // 131072 and 196608
  assert.is(countAlignedBlocks([S(1, 10)], 1), 9);
});

test('lowestFreeBlock: lowest aligned block clear of every taken span', () => {
  const pool = [S(0, 8 * B)];
  assert.is(lowestFreeBlock(pool, [], B), 0);
  assert.is(lowestFreeBlock(pool, [S(0, B)], B), B);
  assert.is(lowestFreeBlock(pool, [S(0, B), S(2 * B, 3 * B)], B), B);
  assert.is(lowestFreeBlock(pool, [S(5, 6)], B), B, 'a single id taken makes its block busy');
  assert.is(lowestFreeBlock(pool, [S(B - 1, B + 1)], B), 2 * B, 'a span across a boundary takes both blocks');
  assert.is(lowestFreeBlock(pool, [S(0, 8 * B)], B), undefined);
  assert.is(lowestFreeBlock([S(3 * B, 4 * B), S(6 * B, 7 * B)], [S(3 * B, 4 * B)], B), 6 * B, 'next pool span');
  // The default pool's 32767 blocks, all but the last taken: found without walking block by block.
  const big = [S(DEFAULT_POOL_START, 0xffffffff)];
  const t0 = performance.now();
  assert.is(lowestFreeBlock(big, [S(DEFAULT_POOL_START, 0xffff0000 - B)], B), 0xffff0000 - B);
  assert.ok(performance.now() - t0 < 20);
});

test('subuid parsing: entries, comments, blank and malformed lines', () => {
  const f = parseSubid('# comment\nalice:100000:65536\n\n  bob:165536:65536  \nbroken line\ncarol:x:1\ndave:5:0\n1000:2147483648:131072\n', '/x');
  assert.equal(
    f.entries.map((e) => [e.owner, e.start, e.end, e.line]),
    [
      ['alice', 100000, 165536, 2],
      ['bob', 165536, 231072, 4],
      ['1000', 2147483648, 2147483648 + 131072, 8],
    ],
  );
  assert.equal(
    f.ignored.map((l) => l.line),
    [5, 6, 7],
  );
});

function withFiles(uid: string, gid: string, fn: (conf: AllocatorConfig) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uxn-subid-'));
  try {
    fs.writeFileSync(path.join(dir, 'subuid'), uid);
    fs.writeFileSync(path.join(dir, 'subgid'), gid);
    fn({ ...DEFAULTS.allocator, subuidFile: path.join(dir, 'subuid'), subgidFile: path.join(dir, 'subgid') });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('readSubid: a missing file is empty', () => {
  assert.equal(readSubid('/nonexistent/subuid').entries, []);
});

test('default pool: 2^31 up to the last whole block, minus every subuid/subgid range', () => {
  withFiles('', '', (c) => {
    const p = poolFromConfig(c);
    assert.is(p.id, 'default');
    assert.equal(p.spans, [S(DEFAULT_POOL_START, 0xffffffff)]);
    assert.is(p.blocks, 32767);
  });
  withFiles(`kubelet:65536:2147352576\npodman:${DEFAULT_POOL_START}:65536\n`, `other:${DEFAULT_POOL_START + 3 * B + 7}:1\n`, (c) => {
    const p = poolFromConfig(c);
    assert.equal(p.spans, [S(DEFAULT_POOL_START + B, DEFAULT_POOL_START + 3 * B + 7), S(DEFAULT_POOL_START + 3 * B + 8, 0xffffffff)]);
    assert.is(p.blocks, 32767 - 2);
    assert.is(lowestFreeBlock(p.spans, [], B), DEFAULT_POOL_START + B);
  });
});

test('subidOwner pool: ids in both files for the owner, minus other owners', () => {
  const uid = `podman:100000:65536\nuxn:${4 * B}:${8 * B}\n`;
  const gid = `uxn:${5 * B}:${8 * B}\nother:${7 * B}:10\n`;
  withFiles(uid, gid, (c) => {
    const p = poolFromConfig({ ...c, subidOwner: 'uxn' });
    assert.is(p.id, 'subid:uxn');
    assert.equal(p.spans, [S(5 * B, 7 * B), S(7 * B + 10, 12 * B)]);
    assert.is(p.blocks, 2 + 4);
  });
});

test('subidOwner without a usable aligned block: error naming the owner and what the files give', async () => {
  await withFiles('uxn:100000:65536\n', 'uxn:100000:65536\n', async (c) => {
    const e = await expectCniError(ErrorCode.InvalidNetworkConfig, () => poolFromConfig({ ...c, subidOwner: 'uxn' }));
    assert.match(e.message, 'allocator.subidOwner: "uxn"');
    assert.match(e.message, '100000-165535');
  });
  await withFiles('', '', async (c) => {
    const e = await expectCniError(ErrorCode.InvalidNetworkConfig, () => poolFromConfig({ ...c, subidOwner: 'nobody-here' }));
    assert.match(e.message, 'gives nothing');
  });
});

test('explicit pool: start with size or count, checked, taken as given', async () => {
  const c = DEFAULTS.allocator;
  const p = poolFromConfig({ ...c, start: 10 * B, count: 3 });
  assert.equal([p.id, p.spans, p.blocks], [`config:${10 * B}+${3 * B}`, [S(10 * B, 13 * B)], 3]);
  assert.is(poolFromConfig({ ...c, start: 0, size: 2 * B }).blocks, 2);
  assert.is(poolFromConfig({ ...c, start: 100, count: 4, blockSize: 100 }).blocks, 4);
  const cases: Array<[Partial<AllocatorConfig>, string]> = [
    [{ start: 100000, count: 1 }, 'allocator.start: 100000 is not a multiple of allocator.blockSize 65536'],
    [{ start: 0, size: 100000 }, 'allocator.size: 100000'],
    [{ start: 0, size: B, count: 1 }, 'not both'],
    [{ start: 0 }, 'allocator.start: 0 needs allocator.size'],
    [{ count: 2 }, 'count 2 needs allocator.start'],
    [{ start: 0xffff0000, count: 1 }, 'past the last usable id'],
    [{ start: 0, count: 1, subidOwner: 'x' }, 'cannot be combined'],
  ];
  for (const [extra, msg] of cases) {
    const e = await expectCniError(ErrorCode.InvalidNetworkConfig, () => poolFromConfig({ ...c, ...extra }));
    assert.match(e.message, msg);
  }
});

test.run();
