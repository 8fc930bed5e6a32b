import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { validateMappings, formatMap, parseMap, type IdMappings } from '../../src/ns/index';
import { CniError, ErrorCode } from '../../src/cni/errors';

const r = (containerID: number, hostID: number, size: number) => ({ containerID, hostID, size });
const ok = (uid: ReturnType<typeof r>[], gid = uid): IdMappings => ({ uidMappings: uid, gidMappings: gid });

function rejects(m: unknown, ...needles: string[]): void {
  try {
    validateMappings(m as IdMappings);
  } catch (e) {
    assert.instance(e, CniError);
    assert.is((e as CniError).code, ErrorCode.MappingInvalid);
    for (const n of needles) assert.ok((e as Error).message.includes(n), `"${(e as Error).message}" lacks "${n}"`);
    return;
  }
  assert.unreachable(`accepted ${JSON.stringify(m)}`);
}

test('accepts one range and many independent ranges', () => {
  validateMappings(ok([r(0, 100000, 65536)]));
  validateMappings(ok([r(0, 100000, 1), r(1, 200000, 999), r(1000, 300000, 64536)], [r(0, 5000, 10)]));
  // 340 lines must fit one write of < 4096 bytes (kernel limit), so short numbers here.
  const many = Array.from({ length: 340 }, (_, i) => r(i, 1000 + i, 1));
  validateMappings(ok(many));
});

test('container-range overlap names both ranges', () => {
  rejects(ok([r(0, 100000, 65536), r(0, 300000, 65536)]), 'uidMappings[1] (containerID 0, hostID 300000, size 65536): overlaps uidMappings[0]');
});

test('host-range overlap names both ranges', () => {
  rejects(ok([r(0, 100000, 65536)], [r(0, 100000, 10), r(10, 100005, 10)]), 'gidMappings[1] (containerID 10, hostID 100005, size 10): overlaps gidMappings[0]', 'host');
});

test('overlap found regardless of order', () => {
  rejects(ok([r(5000, 200000, 100), r(0, 100000, 65536)]), 'uidMappings[1]', 'overlaps uidMappings[0]');
});

test('size, bounds, count, emptiness, types', () => {
  rejects(ok([r(0, 100000, 0)]), 'uidMappings[0]', 'size must be > 0');
  rejects(ok([r(0, 4294967290, 10)]), 'uidMappings[0]', 'host range ends past');
  rejects(ok([r(4294967295, 0, 1)]), 'uidMappings[0] (containerID 4294967295', 'container range ends past');
  rejects(ok([r(4294967296, 0, 1)]), 'containerID must be an integer');
  rejects(ok([r(-1, 0, 1)]), 'uidMappings[0]');
  rejects(ok([r(0.5, 0, 1)]), 'uidMappings[0]');
  rejects(ok([]), 'uidMappings is empty');
  rejects({ uidMappings: [r(0, 1000, 1)], gidMappings: [] }, 'gidMappings is empty');
  rejects(ok(Array.from({ length: 341 }, (_, i) => r(i, 100000 + i, 1))), '341 ranges', '340');
  rejects({ uidMappings: 'x', gidMappings: [] }, 'uidMappings must be an array');
  rejects(null, 'mappings must be an object');
  rejects(ok([{ containerID: '0', hostID: 1, size: 1 } as never]), 'containerID');
});

test('map text over the kernel page limit is refused', () => {
  const big = Array.from({ length: 340 }, (_, i) => r(1000000000 + i * 100, 3000000000 + i * 100, 100));
  rejects(ok(big), 'bytes');
});

test('formatMap / parseMap round trip', () => {
  const m = [r(0, 100000, 1), r(1, 200000, 65535)];
  assert.equal(parseMap(formatMap(m)), m);
  assert.equal(parseMap('         0     100000      65536\n'), [r(0, 100000, 65536)]);
});

test.run();
