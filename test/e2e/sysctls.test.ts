// sysctls in the pod's netns: the config's `sysctls` (net.* only, checked at config time, each
// failure naming its key, the ADD rolled back), and net.ipv4.ping_group_range = the pod's
// mapped gid range by default for a netns owned by the pod's user namespace.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { op } from '../cli/helpers/run-operator';
import { hostState, sh, withNet, type TestNet } from '../helpers/host';
import { makeRuntimeNetns, removeRuntimeNetns } from '../helpers/runtime-netns';

/** A sysctl as the pod reads it (from inside its user namespace), whitespace normalised. */
function inPod(net: TestNet, containerId: string, key: string): string {
  const r = op(['exec', containerId, '--data-dir', net.dataDir, '--', 'cat', `/proc/sys/${key.replace(/\./g, '/')}`]);
  if (r.status !== 0) throw new Error(`exec: ${r.stderr}`);
  return r.stdout.trim().split(/\s+/).join(' ');
}

test('create mode, bridge + host-local: ping_group_range is the mapped range in the pod; explicit sysctls are set; "unchanged" leaves the default', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    const conf = net.conf('1.0.0', { sysctls: { 'net.ipv4.ip_default_ttl': 42 } });
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    assert.is(inPod(net, a.containerId, 'net.ipv4.ping_group_range'), '0 65535', 'every pod gid may ping');
    const host = sh('nsenter', [`--net=${a.netnsPin}`, 'cat', '/proc/sys/net/ipv4/ping_group_range'])
      .trim()
      .split(/\s+/)
      .map(Number);
    assert.equal(host, [net.hostID, net.hostID + 65535], 'host gids of the mapping, seen from the host');
    assert.is(inPod(net, a.containerId, 'net.ipv4.ip_default_ttl'), '42');
    assert.is(net.run('DEL', a, conf).status, 0);

    const b = net.attachment();
    const off = net.conf('1.0.0', { pingGroupRange: 'unchanged' });
    assert.is(net.run('ADD', b, off).status, 0);
    // "1 0" (nobody) in host gids; the pod sees those unmapped gids as the overflow gid.
    assert.is(
      sh('nsenter', [`--net=${b.netnsPin}`, 'cat', '/proc/sys/net/ipv4/ping_group_range'])
        .trim()
        .split(/\s+/)
        .join(' '),
      '1 0',
      "the kernel's default",
    );
    assert.is(net.run('DEL', b, off).status, 0);

    const c = net.attachment();
    const explicit = net.conf('1.0.0', { sysctls: { 'net.ipv4.ping_group_range': '100 200' } });
    assert.is(net.run('ADD', c, explicit).status, 0);
    assert.is(inPod(net, c.containerId, 'net.ipv4.ping_group_range'), '100 200', 'given in pod gids, wins over the default');
    assert.is(net.run('DEL', c, explicit).status, 0);
  });
});

test('bad sysctls are refused at config time (code 7, naming the key), nothing created', async () => {
  await withNet(async (net) => {
    const before = hostState();
    for (const [sysctls, needle] of [
      [{ 'kernel.pid_max': 100000 }, 'kernel.pid_max'],
      [{ 'net.ipv4/../../kernel.x': 1 }, 'net.ipv4/../../kernel.x'],
      [{ 'net.ipv4.ip_default_ttl': 'a\nb' }, 'net.ipv4.ip_default_ttl'],
      [{ 'net.ipv4.ip_default_ttl': { x: 1 } }, 'net.ipv4.ip_default_ttl'],
      [{ 'net.ipv4.ping_group_range': 'all' }, 'net.ipv4.ping_group_range'],
    ] as const) {
      const a = net.attachment();
      const r = net.run('ADD', a, net.conf('1.0.0', { sysctls }));
      assert.is(r.json?.code, 7, r.stdout);
      assert.match(r.json.msg, needle);
      assert.not.ok(existsSync(a.netnsPin));
    }
    assert.not.ok(existsSync(net.dataDir), 'no data dir, no lock, no record');
    assert.equal(hostState(), before);
  });
});

test('a sysctl the kernel refuses fails ADD naming the key; the rollback leaves nothing', async () => {
  await withNet(async (net) => {
    const before = hostState();
    for (const [sysctls, needle] of [
      [{ 'net.ipv4.no_such_key': 1 }, 'net.ipv4.no_such_key'],
      [{ 'net.ipv4.ping_group_range': '0 70000' }, 'gid 70000'], // beyond the pod's 65536 gids
    ] as const) {
      const a = net.attachment();
      const r = net.run('ADD', a, net.conf('1.0.0', { sysctls }));
      assert.is(r.status, 1, r.stdout);
      assert.match(r.json.msg, needle);
      assert.match(r.json.msg, 'net.ipv4.');
      assert.not.ok(existsSync(a.netnsPin), 'netns pin removed');
      assert.not.ok(existsSync(a.usernsPin), 'userns pin removed');
    }
    assert.equal(net.reservations(), []);
    assert.equal(net.vethsOnBridge(), []);
    assert.equal(sh('ls', [`${net.dataDir}/records`]).trim(), '', 'no record');
    assert.equal(hostState(), before);
  });
});

test('adopted: a userns-owned netns gets the mapped range from its recorded maps; a host-owned one is left as it is', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    const b = net.attachment();
    const conf = net.conf('1.0.0', { netnsPinDirs: [] });
    try {
      await makeRuntimeNetns(a.netnsPin, { containerID: 0, hostID: net.hostID + 65536 * 2, size: 65536 });
      assert.is(net.run('ADD', a, conf).status, 0);
      assert.is(inPod(net, a.containerId, 'net.ipv4.ping_group_range'), '0 65535');
      sh('ip', ['netns', 'add', b.pinName]);
      assert.is(net.run('ADD', b, conf).status, 0);
      assert.is(sh('ip', ['netns', 'exec', b.pinName, 'cat', '/proc/sys/net/ipv4/ping_group_range']).trim().split(/\s+/).join(' '), '1 0');
      assert.is(net.run('DEL', a, conf).status, 0);
      assert.is(net.run('DEL', b, conf).status, 0);
    } finally {
      removeRuntimeNetns(a.netnsPin);
      sh('ip', ['netns', 'del', b.pinName], { allowFail: true });
    }
  });
});

test.run();
