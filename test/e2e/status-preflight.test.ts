// STATUS runs ADD's own preflight plan: for each thing ADD would fail on up front, STATUS
// answers not ready (code 50) with the same message, and the ADD fails with its own code
// before touching anything (no record, no pin, no id block).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostState, withNet, type TestNet } from '../helpers/host';

const STATUS_ENV = { CNI_CONTAINERID: '', CNI_IFNAME: '', CNI_NETNS: '' };

function status(net: TestNet, conf: Record<string, unknown>) {
  return net.run('STATUS', { containerId: '' }, conf, STATUS_ENV);
}

/** STATUS says not ready, naming what ADD then fails on with `addCode`, and the ADD changes nothing. */
function assertStatusMatchesAdd(net: TestNet, conf: Record<string, unknown>, addCode: number, env: Record<string, string> = {}): void {
  const before = hostState();
  const records = () => (existsSync(join(net.dataDir, 'records')) ? readdirSync(join(net.dataDir, 'records')) : []);
  const recordsBefore = records();
  const s = net.run('STATUS', { containerId: '' }, conf, { ...STATUS_ENV, ...env });
  assert.is(s.status, 1, s.stdout);
  assert.is(s.json?.code, 50, s.stdout);
  const a = net.attachment();
  const add = net.run('ADD', a, conf, env);
  assert.is(add.status, 1, add.stdout);
  assert.is(add.json?.code, addCode, add.stdout);
  assert.ok(s.json.msg.includes(add.json.msg), `STATUS names what ADD fails on:\n  STATUS: ${s.json.msg}\n  ADD:    ${add.json.msg}`);
  assert.not.ok(existsSync(a.netnsPin), 'no pin');
  assert.equal(records(), recordsBefore, 'no record');
  assert.equal(hostState(), before);
}

test('STATUS: ready on a healthy setup (the plan passes for every target)', async () => {
  await withNet(async (net) => {
    const ok = status(net, net.conf('1.1.0'));
    assert.is(ok.status, 0, ok.stdout);
  });
});

test('STATUS: not ready for a missing delegate binary, as ADD fails on it', async () => {
  await withNet(async (net) => {
    const conf = net.conf('1.1.0', {}, [net.bridgeDelegate(), { type: 'no-such-plugin' }]);
    assertStatusMatchesAdd(net, conf, 7);
    const msg: string = status(net, conf).json.msg;
    assert.match(msg, 'delegate "no-such-plugin": failed to find plugin');
    assert.is(msg.split('failed to find plugin').length - 1, 1, `the missing delegate reported once, not probed as well: ${msg}`);
  });
});

test('STATUS: not ready when usernsPinDir is a dangling symlink, as ADD fails on it', async () => {
  await withNet(async (net) => {
    const link = join(net.dir, 'userns-pins');
    symlinkSync(join(net.dir, 'nowhere'), link);
    const conf = net.conf('1.1.0', { usernsPinDir: link });
    assertStatusMatchesAdd(net, conf, 4);
    assert.match(status(net, conf).json.msg, `usernsPinDir: pin directory "${link}" is not usable`);
    assert.not.ok(existsSync(join(net.dataDir, 'allocations.json')), 'the ADD stopped before its mapping went into the table');
  });
});

test('STATUS: not ready for an allocator pool that cannot be used (subidOwner with no ids), as ADD fails on it', async () => {
  await withNet(async (net) => {
    const [subuid, subgid] = [join(net.dir, 'subuid'), join(net.dir, 'subgid')];
    for (const f of [subuid, subgid]) writeFileSync(f, 'someoneelse:100000:65536\n');
    const conf = net.conf('1.1.0', { allocator: { subidOwner: 'uxnobody', subuidFile: subuid, subgidFile: subgid } });
    delete conf.idMappings;
    assertStatusMatchesAdd(net, conf, 7);
    assert.match(status(net, conf).json.msg, 'allocator.subidOwner: "uxnobody" has no usable block');
  });
});

test('STATUS: not ready for an invalid static idMappings, as ADD fails on it', async () => {
  await withNet(async (net) => {
    const conf = net.conf('1.1.0', {
      idMappings: {
        uidMappings: [
          { containerID: 0, hostID: net.hostID, size: 65536 },
          { containerID: 100, hostID: net.hostID + 200000, size: 10 },
        ],
      },
    });
    assertStatusMatchesAdd(net, conf, 7);
    assert.match(status(net, conf).json.msg, 'idMappings');
  });
});

test('STATUS: not ready once the allocator pool is exhausted, as the next ADD fails on it (104); ready again after DEL', async () => {
  await withNet(async (net) => {
    const conf = net.conf('1.1.0', { allocator: { start: Math.floor(net.hostID / 65536) * 65536, count: 1 } });
    delete conf.idMappings;
    const first = net.attachment();
    assert.is(net.run('ADD', first, conf).status, 0);
    try {
      assertStatusMatchesAdd(net, conf, 104);
      assert.match(status(net, conf).json.msg, 'is exhausted: all 1 blocks');
    } finally {
      assert.is(net.run('DEL', first, conf).status, 0);
    }
    const again = status(net, conf);
    assert.is(again.status, 0, again.stdout);
  });
});

test('STATUS: an adopt-only config (netnsPinDirs []) needs no netns pin directory, pool or mapping, but a usable usernsPinDir', async () => {
  await withNet(async (net) => {
    const file = join(net.dir, 'a-file');
    writeFileSync(file, '');
    const conf = net.conf('1.1.0', { netnsPinDirs: [], allocator: { subidOwner: 'uxnobody', subuidFile: file, subgidFile: file } });
    delete conf.idMappings;
    const s = status(net, conf);
    assert.is(s.status, 0, s.stdout);
    // A netns the runtime made in its own user namespace gets its owner pinned there.
    const bad = status(net, { ...conf, usernsPinDir: join(file, 'userns') });
    assert.is(bad.json?.code, 50, bad.stdout);
    assert.match(bad.json.msg, `${file} is not a directory`);
  });
});

test.run();
