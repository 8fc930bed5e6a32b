// Runtimes repeat DEL until it succeeds and roll binaries back: DEL works from the record
// whatever the config grew meanwhile, CHECK writes nothing, verbs leave no lock files for keys
// that have no record, and a key either fits every state file name or is refused up front.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hostState, sh, withNet, type TestNet } from '../helpers/host';
import { CNI_BIN, PLUGIN } from '../helpers/plugin';

const locks = (net: TestNet) => (existsSync(join(net.dataDir, 'locks')) ? readdirSync(join(net.dataDir, 'locks')).sort() : []);
const records = (net: TestNet) => (existsSync(join(net.dataDir, 'records')) ? readdirSync(join(net.dataDir, 'records')).sort() : []);

test('DEL (repeated) and CHECK of a key with no record leave no lock file', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    for (let i = 0; i < 3; i++) assert.is(net.run('DEL', a, net.conf()).status, 0);
    const check = net.run('CHECK', a, net.conf());
    assert.is(check.json?.code, 3, check.stdout);
    assert.equal(locks(net), []);
    assert.equal(records(net), []);
    // An ADD refused before its first journal write leaves none either.
    const bad = net.run('ADD', { ...a, netnsPin: '/tmp/not-a-pin-dir/x' }, net.conf());
    assert.is.not(bad.status, 0);
    assert.equal(locks(net), []);
  });
});

test('GC sweeps lock files of keys with no record and keeps the live ones', async () => {
  await withNet(async (net) => {
    const conf = net.conf('1.1.0');
    const a = net.attachment();
    assert.is(net.run('ADD', a, conf).status, 0);
    const live = `${net.name}+${a.containerId}+eth0.lock`;
    assert.equal(locks(net), [live]);
    // As older versions left them after every DEL of an unknown key.
    const stale = [`${net.name}+gone1+eth0.lock`, `${net.name}+gone2+eth1.lock`];
    for (const s of stale) writeFileSync(join(net.dataDir, 'locks', s), '', { mode: 0o600 });
    const gc = net.run('GC', { containerId: '' }, { ...conf, 'cni.dev/valid-attachments': [{ containerID: a.containerId, ifname: 'eth0' }] }, { CNI_CONTAINERID: '', CNI_IFNAME: '', CNI_NETNS: '' });
    assert.is(gc.status, 0, gc.stdout);
    assert.equal(locks(net), [live]);
    assert.is(net.run('DEL', a, conf).status, 0);
    assert.equal(locks(net), []);
  });
});

test('state file names of 234-255 bytes are refused by every verb with code 4 naming the limit; 233 works for all', async () => {
  await withNet(async (net) => {
    const before = hostState();
    const a = net.attachment();
    // "<network>+<id>+eth0.json"
    const idFor = (len: number) => 'c'.repeat(len - net.name.length - 11);
    for (let len = 234; len <= 255; len++) {
      for (const cmd of len === 234 || len === 255 ? ['ADD', 'CHECK', 'DEL'] : ['DEL']) {
        const r = net.run(cmd, { ...a, containerId: idFor(len) }, net.conf());
        assert.is(r.json?.code, 4, `${cmd} ${len}: ${r.stdout}`);
        assert.match(r.json.msg, `is ${len} bytes, at most 233 fit (NAME_MAX 255`);
      }
    }
    assert.not.ok(existsSync(net.dataDir), 'nothing created');
    assert.not.ok(existsSync(a.netnsPin));
    const b = { ...a, containerId: idFor(233) };
    const add = net.run('ADD', b, net.conf());
    assert.is(add.status, 0, add.stdout);
    assert.is(records(net)[0]!.length, 233);
    assert.is(net.run('CHECK', b, { ...net.conf(), prevResult: add.json }).status, 0);
    assert.is(net.run('DEL', b, net.conf()).status, 0);
    assert.equal(net.reservations(), []);
    assert.equal(records(net), []);
    assert.equal(hostState(), before);
  });
});

test('DEL works from the record despite config drift (unknown keys, "prevResult": null, a bad option) and logs it', async () => {
  await withNet(async (net) => {
    const before = hostState();
    const a = net.attachment();
    assert.is(net.run('ADD', a, net.conf()).status, 0);
    const log = join(net.dir, 'plugin.log');
    const drifted = net.conf('1.0.0', { prevResult: null, aKeyOfANewerVersion: true, allocator: { newKnob: 1 }, logFile: log });
    const add = net.run('ADD', net.attachment(), drifted);
    assert.is(add.json?.code, 7, 'ADD stays strict');
    const del = net.run('DEL', a, drifted);
    assert.is(del.status, 0, del.stdout);
    assert.equal(net.reservations(), []);
    assert.equal(net.vethsOnBridge(), []);
    assert.equal(records(net), []);
    assert.equal(hostState(), before);
    assert.match(sh('cat', [log]), /"event":"config-drift".*aKeyOfANewerVersion: unknown key/);
  });
});

test('CHECK writes nothing and passes on a read-only data dir', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    const add = net.run('ADD', a, net.conf());
    assert.is(add.status, 0, add.stdout);
    sh('mount', ['--bind', net.dataDir, net.dataDir]);
    try {
      sh('mount', ['-o', 'remount,ro,bind', net.dataDir]);
      const check = net.run('CHECK', a, { ...net.conf(), prevResult: add.json });
      assert.is(check.status, 0, check.stdout);
    } finally {
      sh('umount', [net.dataDir]);
    }
    // Without the lock file (a data dir made read-only before any lock was taken) too.
    sh('rm', ['-rf', join(net.dataDir, 'locks')]);
    sh('mount', ['--bind', net.dataDir, net.dataDir]);
    try {
      sh('mount', ['-o', 'remount,ro,bind', net.dataDir]);
      const check = net.run('CHECK', a, { ...net.conf(), prevResult: add.json });
      assert.is(check.status, 0, check.stdout);
    } finally {
      sh('umount', [net.dataDir]);
    }
    assert.is(net.run('DEL', a, net.conf()).status, 0);
  });
});

test('a delegate that is this plugin with the same dataDir: code 7 at once, not 11 after two lock timeouts', async () => {
  await withNet(async (net) => {
    const before = hostState();
    const a = net.attachment();
    const conf = net.conf('1.0.0', { lockTimeoutMs: 500 }, [net.bridgeDelegate(), { type: 'userns-netns', dataDir: net.dataDir, delegates: [{ type: 'tuning' }] }]);
    // The plugin itself is findable in CNI_PATH, as it would be in /opt/cni/bin.
    const r = net.run('ADD', a, conf, { CNI_PATH: `${CNI_BIN}:${dirname(PLUGIN)}` });
    assert.is(r.json?.code, 7, r.stdout);
    assert.match(r.json.msg, `delegates[1].type: "userns-netns" is this plugin itself (the same dataDir "${net.dataDir}")`);
    assert.not.ok(existsSync(net.dataDir));
    assert.equal(net.reservations(), []);
    assert.equal(hostState(), before);
  });
});

test.run();
