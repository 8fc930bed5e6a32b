// Adopt mode on a netns a runtime made inside the pod's user namespace (containerd 2.x,
// CRI-O, podman --uidmap): the owner is pinned at <usernsPinDir>/<name> and its maps
// recorded, so oci/exec/inspect/list know it like a namespace we made; CHECK verifies the
// pin; DEL removes only the pin we made and leaves the runtime's namespaces alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspectNamespace } from '../../src/ns';
import { op, opJson } from '../cli/helpers/run-operator';
import { isNsfsMount, sh, withNet, type TestNet } from '../helpers/host';
import { makeRuntimeNetns, removeRuntimeNetns } from '../helpers/runtime-netns';
import { failpointEnv } from '../../src/attachment/failpoints';

/** A network and, at one of its attachment paths, a netns made by a "runtime" in a user namespace
 * mapping the network's ids (as containerd 2.x makes it); the netns goes after `fn`, whatever happens. */
async function withRuntimeNetns(fn: (net: TestNet, a: ReturnType<TestNet['attachment']>) => Promise<void>): Promise<void> {
  await withNet(async (net) => {
    const a = net.attachment();
    try {
      await makeRuntimeNetns(a.netnsPin, { containerID: 0, hostID: net.hostID, size: 65536 });
      await fn(net, a);
    } finally {
      removeRuntimeNetns(a.netnsPin);
    }
  });
}

const recordOf = (net: TestNet, containerId: string) => JSON.parse(readFileSync(join(net.dataDir, 'records', `${net.name}+${containerId}+eth0.json`), 'utf8'));

test('a userns-owned netns made like containerd 2.x: owner pinned and mapped; oci, exec, inspect, list give it; DEL removes only our pin', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    const map = { containerID: 0, hostID: net.hostID, size: 65536 };
    try {
      const made = await makeRuntimeNetns(a.netnsPin, map);
      const conf = net.conf('1.0.0', { netnsPinDirs: [] });
      const add = net.run('ADD', a, conf);
      assert.is(add.status, 0, add.stdout);

      const rec = recordOf(net, a.containerId);
      assert.is(rec.mode, 'adopt');
      assert.equal(rec.userns, { path: a.usernsPin, inode: made.usernsInode, hostOwned: false, adopted: true, pin: 'pinned', token: rec.userns.token });
      assert.equal(rec.mappings, { uidMappings: [map], gidMappings: [map] }, 'the maps the runtime wrote');
      const pin = inspectNamespace(a.usernsPin);
      assert.ok(pin.isNsfsMount && pin.nsType === 'user' && pin.inode === made.usernsInode, 'the owner is pinned beside the netns');

      const oci = opJson(['oci', a.containerId, '--data-dir', net.dataDir]);
      assert.equal(oci.linux.namespaces, [
        { type: 'user', path: a.usernsPin },
        { type: 'network', path: a.netnsPin },
      ]);
      assert.equal(oci.linux.uidMappings, [map]);
      assert.equal(oci.linux.gidMappings, [map]);

      const row = opJson(['list', '--json', '--data-dir', net.dataDir]).attachments[0];
      assert.is(row.userns, a.usernsPin);
      assert.equal([row.uidMappings, row.gidMappings, row.live], [[map], [map], true]);
      const ins = opJson(['inspect', a.containerId, '--json', '--data-dir', net.dataDir]).attachments[0];
      assert.is(ins.check.live, true, ins.check.problems.join('; '));
      assert.is(ins.check.userns.inode, made.usernsInode);
      const ex = op(['exec', a.containerId, '--data-dir', net.dataDir, '--', 'cat', '/proc/self/uid_map']);
      assert.is(ex.status, 0, ex.stderr);
      assert.equal(ex.stdout.trim().split(/\s+/).map(Number), [0, net.hostID, 65536], 'exec enters the owner user namespace');

      assert.is(net.run('CHECK', a, { ...conf, prevResult: add.json }).status, 0);
      const del = net.run('DEL', a, conf);
      assert.is(del.status, 0, del.stdout);
      assert.not.ok(existsSync(a.usernsPin), 'our owner pin is gone');
      const left = inspectNamespace(a.netnsPin);
      assert.is(left.inode, made.netnsInode, "the runtime's netns is left in place");
      assert.is(left.owner?.inode, made.usernsInode, 'and its user namespace with it');
      assert.equal(net.reservations(), []);
      assert.equal(net.vethsOnBridge(), []);
    } finally {
      removeRuntimeNetns(a.netnsPin);
    }
  });
});

test('adopted userns-owned netns: CHECK fails when the owner pin is replaced; DEL leaves what is at the pin now', async () => {
  await withRuntimeNetns(async (net, a) => {
    const conf = net.conf('1.0.0', { netnsPinDirs: [] });
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    sh('umount', ['-l', a.usernsPin]);
    sh('mount', ['--bind', '/proc/self/ns/user', a.usernsPin]); // someone else's user namespace
    const check = net.run('CHECK', a, { ...conf, prevResult: add.json });
    assert.is(check.json?.code, 100, check.stdout);
    assert.match(check.json.msg, a.usernsPin);
    assert.is(op(['oci', a.containerId, '--data-dir', net.dataDir]).status, 1, 'oci refuses a pin that is not the owner');
    assert.is(net.run('DEL', a, conf).status, 0);
    assert.ok(isNsfsMount(a.usernsPin), 'a pin that is not ours is left untouched');
    assert.equal(net.reservations(), []);
  });
});

test('two networks adopt one userns-owned netns: they share the owner pin; it goes with the last DEL', async () => {
  await withNet(async (net1) => {
    await withNet(async (net2) => {
      const a = net1.attachment();
      const b = { ...a, containerId: a.containerId };
      try {
        await makeRuntimeNetns(a.netnsPin, { containerID: 0, hostID: net1.hostID, size: 65536 });
        const conf1 = net1.conf('1.0.0', { netnsPinDirs: [] });
        const conf2 = net2.conf('1.0.0', { netnsPinDirs: [], dataDir: net1.dataDir });
        assert.is(net1.run('ADD', a, conf1).status, 0);
        const add2 = net2.run('ADD', b, conf2, { CNI_IFNAME: 'eth1' });
        assert.is(add2.status, 0, add2.stdout);
        const recordOf = (name: string, ifname: string) => JSON.parse(readFileSync(join(net1.dataDir, 'records', `${name}+${b.containerId}+${ifname}.json`), 'utf8'));
        const [rec1, rec2] = [recordOf(net1.name, 'eth0'), recordOf(net2.name, 'eth1')];
        assert.is(rec2.userns.path, a.usernsPin);
        assert.is(rec2.joined.network, net1.name);
        // The same pin (path, inode, token: the proof teardown needs), still not host-owned, and the same ids.
        assert.equal(rec2.userns, rec1.userns);
        assert.equal([rec2.userns.hostOwned, rec2.userns.adopted, typeof rec2.userns.token], [false, true, 'string']);
        assert.equal(rec2.mappings, rec1.mappings);
        assert.is(net1.run('DEL', a, conf1).status, 0);
        assert.ok(isNsfsMount(a.usernsPin), 'kept: the other network still names it');
        assert.is(net2.run('DEL', b, conf2, { CNI_IFNAME: 'eth1' }).status, 0);
        assert.not.ok(existsSync(a.usernsPin), 'the last DEL removes it');
      } finally {
        removeRuntimeNetns(a.netnsPin);
      }
    }, 'uy');
  });
});

test('an ADD killed right after pinning the owner: DEL (from the journal) removes that pin, and a retry works', async () => {
  await withRuntimeNetns(async (net, a) => {
    const conf = net.conf('1.0.0', { netnsPinDirs: [] });
    const killed = net.run('ADD', a, conf, failpointEnv('add-after-owner-pin', 'kill'));
    assert.is(killed.status, null, killed.stdout);
    assert.ok(isNsfsMount(a.usernsPin));
    assert.is(net.run('DEL', a, conf).status, 0);
    assert.not.ok(existsSync(a.usernsPin), 'proven ours by the journalled inode');
    assert.is(net.run('ADD', a, conf).status, 0);
    assert.is(net.run('DEL', a, conf).status, 0);
    assert.not.ok(existsSync(a.usernsPin));
    assert.equal(net.reservations(), []);
  });
});

test('a damaged record of such an ADD: DEL salvages the owner pin it still names and removes it', async () => {
  await withRuntimeNetns(async (net, a) => {
    const conf = net.conf('1.0.0', { netnsPinDirs: [] });
    const killed = net.run('ADD', a, conf, failpointEnv('add-after-owner-pin', 'kill'));
    assert.is(killed.status, null, killed.stdout);
    const file = join(net.dataDir, 'records', `${net.name}+${a.containerId}+eth0.json`);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, text.indexOf('"delegates"'))); // cut after the userns reference
    assert.ok(isNsfsMount(a.usernsPin));
    const del = net.run('DEL', a, conf);
    assert.is(del.status, 0, del.stdout);
    assert.not.ok(existsSync(a.usernsPin), 'proven ours by the inode the damaged record still names');
    assert.not.ok(existsSync(file));
    assert.ok(isNsfsMount(a.netnsPin), "the runtime's netns stays");
  });
});

test('a host-owned adopted netns stays as it was: no owner pin, no mappings', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    sh('ip', ['netns', 'add', a.pinName]);
    try {
      const conf = net.conf('1.0.0', { netnsPinDirs: [] });
      assert.is(net.run('ADD', a, conf).status, 0);
      const rec = recordOf(net, a.containerId);
      assert.equal([rec.userns.path, rec.userns.pin, rec.userns.hostOwned, rec.mappings], ['', 'none', true, undefined]);
      assert.not.ok(existsSync(a.usernsPin));
      assert.is(net.run('DEL', a, conf).status, 0);
    } finally {
      sh('ip', ['netns', 'del', a.pinName], { allowFail: true });
    }
  });
});

test.run();
