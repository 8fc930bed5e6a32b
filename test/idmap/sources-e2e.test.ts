// Where a created userns's mapping comes from, end to end through the built plugin on the
// real kernel: runtimeConfig.idMappings > CNI_ARGS USERNS_UID_MAP/USERNS_GID_MAP > static
// idMappings > allocator. The userns must have exactly the mapping, as the kernel shows it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withNet, type TestNet } from '../helpers/host';
import { B, allocConf, freshPoolStart, nsMap, recordOf, snapshot, tableBlocks } from './helpers/e2e';

function addCheckDel(net: TestNet, conf: Record<string, unknown>, env: Record<string, string>, uid: string[], gid: string[]): any {
  const a = net.attachment();
  const add = net.run('ADD', a, conf, env);
  assert.is(add.status, 0, add.stdout + add.stderr);
  try {
    assert.equal(nsMap(a.usernsPin, 'uid_map'), uid);
    assert.equal(nsMap(a.usernsPin, 'gid_map'), gid);
    return recordOf(net, a.containerId);
  } finally {
    const del = net.run('DEL', a, conf, env);
    assert.is(del.status, 0, del.stdout);
  }
}

test('each source gives the userns exactly its mapping, in the documented precedence', async () => {
  await withNet(async (net) => {
    const P = freshPoolStart();
    const staticMap = { uidMappings: [{ containerID: 0, hostID: P + 10 * B, size: B }] };
    const rcMap = {
      uidMappings: [
        { containerID: 0, hostID: P + 20 * B, size: 1000 },
        { containerID: 1000, hostID: P + 21 * B, size: 5000 },
      ],
      gidMappings: [{ containerID: 0, hostID: P + 22 * B, size: 2000 }],
    };
    const cniArgs = { CNI_ARGS: `USERNS_UID_MAP=0:${P + 30 * B}:100,100:${P + 31 * B}:65436;USERNS_GID_MAP=0:${P + 32 * B}:65536` };
    const base = allocConf(net, { start: P, count: 4 });

    // 4. nothing explicit: the allocator's lowest block.
    let rec = addCheckDel(net, base, {}, [`0 ${P} ${B}`], [`0 ${P} ${B}`]);
    assert.equal(rec.allocation, { pool: `config:${P}+${4 * B}`, hostID: P, size: B });
    assert.equal(tableBlocks(net), []);

    // 3. static idMappings, uid only: gid equals uid; no allocation.
    const withStatic = { ...base, idMappings: staticMap };
    rec = addCheckDel(net, withStatic, {}, [`0 ${P + 10 * B} ${B}`], [`0 ${P + 10 * B} ${B}`]);
    assert.is(rec.allocation, undefined);
    assert.equal(rec.mappings, { ...staticMap, gidMappings: staticMap.uidMappings });

    // 2. CNI_ARGS beats the static mapping.
    addCheckDel(net, withStatic, cniArgs, [`0 ${P + 30 * B} 100`, `100 ${P + 31 * B} 65436`], [`0 ${P + 32 * B} ${B}`]);
    // CNI_ARGS uid only: gid = uid.
    addCheckDel(net, withStatic, { CNI_ARGS: `USERNS_UID_MAP=0:${P + 33 * B}:${B}` }, [`0 ${P + 33 * B} ${B}`], [`0 ${P + 33 * B} ${B}`]);

    // 1. runtimeConfig.idMappings beats both.
    const withRc = { ...withStatic, capabilities: { idMappings: true }, runtimeConfig: { idMappings: rcMap } };
    rec = addCheckDel(net, withRc, cniArgs, [`0 ${P + 20 * B} 1000`, `1000 ${P + 21 * B} 5000`], [`0 ${P + 22 * B} 2000`]);
    assert.equal(rec.mappings, rcMap);
  });
});

function expectRejected(net: TestNet, conf: Record<string, unknown>, env: Record<string, string>, ...mustName: string[]): void {
  const before = snapshot(net);
  const a = net.attachment();
  const r = net.run('ADD', a, conf, env);
  assert.is.not(r.status, 0, `accepted: ${JSON.stringify(env)} ${JSON.stringify(conf.runtimeConfig ?? conf.idMappings)}`);
  assert.ok(r.json && typeof r.json.msg === 'string', r.stdout + r.stderr);
  for (const s of mustName) assert.ok(r.json.msg.includes(s), `${JSON.stringify(r.json.msg)} should name ${JSON.stringify(s)}`);
  assert.equal(snapshot(net), before, 'nothing created');
  assert.is(recordOf(net, a.containerId), undefined);
}

test('bad USERNS_UID_MAP / USERNS_GID_MAP strings: rejected naming the key and value, nothing created', async () => {
  await withNet(async (net) => {
    const P = freshPoolStart();
    const conf = allocConf(net, { start: P, count: 2 });
    const bad: Array<[string, string]> = [
      ['USERNS_UID_MAP', '0:100000'],
      ['USERNS_UID_MAP', 'a:b:c'],
      ['USERNS_UID_MAP', '0:100000:65536,'],
      ['USERNS_UID_MAP', '0:-1:5'],
      ['USERNS_UID_MAP', ''],
      ['USERNS_UID_MAP', '0:100000:0'],
      ['USERNS_UID_MAP', '0:4294967290:100'],
      ['USERNS_UID_MAP', '0:100000:10,5:200000:10'],
      ['USERNS_UID_MAP', '0:100000:10,10:100005:10'],
      ['USERNS_UID_MAP', '0:99999999999:1'],
    ];
    // Every message names the key and quotes the value as given.
    for (const [k, v] of bad) expectRejected(net, conf, { CNI_ARGS: `${k}=${v}` }, `CNI_ARGS ${k}`, JSON.stringify(v));
    // ... and the exact part that is wrong.
    expectRejected(net, conf, { CNI_ARGS: 'USERNS_UID_MAP=0:1:1,x' }, 'USERNS_UID_MAP', 'entry 1 "x"');
    expectRejected(net, conf, { CNI_ARGS: 'USERNS_GID_MAP=0:1:1' }, 'CNI_ARGS USERNS_GID_MAP="0:1:1": a gid mapping was given without a uid mapping');
    expectRejected(net, conf, { CNI_ARGS: 'USERNS_UID_MAP=0:100000:0' }, 'uidMappings[0] (containerID 0, hostID 100000, size 0): size must be > 0');
    expectRejected(net, conf, { CNI_ARGS: 'USERNS_UID_MAP=0:100000:10,5:200000:10' }, 'uidMappings[1] (containerID 5, hostID 200000, size 10): overlaps uidMappings[0]');
    expectRejected(net, conf, { CNI_ARGS: 'USERNS_UID_MAP=0:1:10;USERNS_GID_MAP=0:1:10,0:2:1' }, 'USERNS_GID_MAP="0:1:10,0:2:1"', 'gidMappings[1]');
  });
});

test('bad idMappings objects (runtimeConfig and config): rejected naming the key and value, nothing created', async () => {
  await withNet(async (net) => {
    const P = freshPoolStart();
    const conf = allocConf(net, { start: P, count: 2 });
    const cases: Array<[unknown, string[]]> = [
      [{ uidMappings: [{ containerID: 0, hostID: -1, size: 1 }] }, ['uidMappings[0].hostID', '-1']],
      [{ uidMappings: [{ containerID: 0, hostID: 100000 }] }, ['uidMappings[0].size', 'required']],
      [{ uidMappings: [] }, ['uidMappings', '[]']],
      [{ uidMappings: [{ containerID: 0, hostID: 1, size: 1, extra: 1 }] }, ['uidMappings[0].extra', 'unknown key']],
      [{ uidMappings: [{ containerID: '0', hostID: 1, size: 1 }] }, ['uidMappings[0].containerID', '"0"']],
      [{ gidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }, ['gid mapping was given without a uid mapping']],
      [{ uidMappings: [{ containerID: 0, hostID: 4294967000, size: 1000 }] }, ['uidMappings[0]', 'hostID 4294967000', 'size 1000']],
      [
        {
          uidMappings: [
            { containerID: 0, hostID: 1000, size: 10 },
            { containerID: 5, hostID: 5000, size: 10 },
          ],
        },
        ['uidMappings[1]', 'overlaps uidMappings[0]'],
      ],
      ['0:1:1', ['"0:1:1"']],
    ];
    for (const [m, names] of cases) {
      expectRejected(net, { ...conf, runtimeConfig: { idMappings: m } }, {}, 'runtimeConfig.idMappings', ...names);
      if (typeof m === 'object' && m !== null && 'uidMappings' in m) expectRejected(net, { ...conf, idMappings: m }, {}, 'idMappings', ...names);
    }
  });
});

test('an explicit mapping overlapping a block the allocator gave to a live attachment is refused naming both, unless allowSharedRanges', async () => {
  await withNet(async (net) => {
    const P = freshPoolStart();
    const conf = allocConf(net, { start: P, count: 2 });
    const a = net.attachment();
    assert.is(net.run('ADD', a, conf).status, 0);
    const env = { CNI_ARGS: `USERNS_UID_MAP=0:${P + B - 1}:2` };
    expectRejected(net, conf, env, `CNI_ARGS USERNS_UID_MAP/USERNS_GID_MAP: uidMappings[0] (containerID 0, hostID ${P + B - 1}, size 2)`, `${P}-${P + B - 1}`, `${net.name}/${a.containerId}/eth0`);
    const rcConf = { ...conf, runtimeConfig: { idMappings: { uidMappings: [{ containerID: 0, hostID: P, size: 1 }] } } };
    expectRejected(net, rcConf, {}, 'runtimeConfig.idMappings: uidMappings[0]', `${net.name}/${a.containerId}/eth0`);

    const shared = { ...conf, allocator: { start: P, count: 2, allowSharedRanges: true } };
    const b = net.attachment();
    const r = net.run('ADD', b, shared, env);
    assert.is(r.status, 0, r.stdout);
    assert.equal(nsMap(b.usernsPin, 'uid_map'), [`0 ${P + B - 1} 2`]);
    for (const x of [b, a]) assert.is(net.run('DEL', x, shared, env).status, 0);
    assert.equal(tableBlocks(net), []);
  });
});

test.run();
