// The built plugin driven through the real libcni (Debian's 1.1.2) the way `cnitool add/check/del`
// drives it: conflist loading, name/cniVersion injection, capability args -> runtimeConfig,
// CNI_ARGS, libcni's result cache and the prevResult it feeds CHECK and DEL from that cache.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspectNamespace } from '../../src/ns';
import { hostState, isNsfsMount, sh, withNet, type TestNet } from '../helpers/host';
import { cacheFile, cnitool, cnitoolBin, cnitoolContainerId, cnitoolEnv, conflist, removeBuild, skipReason, type CnitoolEnv } from './helpers/cnitool';

const skip = skipReason();
if (skip) console.log(`SKIP test/cnitool: ${skip}`);
const it = skip ? test.skip : test;

// Built once up front to report the build time. A failed build is not thrown here (a hook's
// error would abort the suite without naming a test): every test then fails on its first
// cnitool call with the compiler output.
test.before(() => {
  if (skip) return;
  try {
    console.log(`cnitool (libcni 1.1.2) built in ${cnitoolBin().ms} ms`);
  } catch {
    /* reported by each test */
  }
});
test.after(() => removeBuild());

function recordPath(net: TestNet, netnsPin: string): string {
  return join(net.dataDir, 'records', `${net.name}+${cnitoolContainerId(netnsPin)}+eth0.json`);
}

function eth0Addrs(pinName: string): string[] {
  return sh('ip', ['-n', pinName, '-o', '-4', 'addr', 'show', 'dev', 'eth0'])
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(/\s+/)[3]!);
}

function idMap(usernsPin: string, which: 'uid_map' | 'gid_map'): string {
  return sh('nsenter', [`--user=${usernsPin}`, 'cat', `/proc/self/${which}`])
    .trim()
    .split(/\s+/)
    .join(' ');
}

/**
 * Runs `fn` with a network and one attachment; afterwards - pass or fail - a cnitool del (so
 * libcni, our plugin and host-local release what they hold), then withNet's cleanup by name.
 */
async function withCnitool(
  cniVersion: string,
  entry: Record<string, unknown>,
  fn: (ctx: { net: TestNet; env: CnitoolEnv; pin: { pinName: string; netnsPin: string; usernsPin: string } }) => Promise<void> | void,
  callEnv: { CNI_ARGS?: string; CAP_ARGS?: string } = {},
): Promise<void> {
  await withNet(async (net) => {
    const env = cnitoolEnv(net, conflist(net, cniVersion, entry));
    const pin = net.attachment();
    try {
      await fn({ net, env, pin });
    } finally {
      cnitool('del', env, net.name, pin.netnsPin, callEnv);
    }
  }, 'uc');
}

for (const version of ['1.0.0', '0.4.0']) {
  it(`cniVersion ${version}: cnitool add creates a userns-owned netns at a fresh path, check passes, del removes everything`, async () => {
    await withCnitool(version, {}, ({ net, env, pin }) => {
      const before = hostState();
      const hostUserns = Number(sh('stat', ['-L', '-c', '%i', '/proc/self/ns/user']).trim());
      assert.not.ok(existsSync(pin.netnsPin), 'create mode: nothing at the path before');

      const add = cnitool('add', env, net.name, pin.netnsPin);
      assert.is(add.status, 0, add.stdout + add.stderr);
      const result = JSON.parse(add.stdout);
      assert.is(result.cniVersion, version);
      const ip = result.ips[0];
      if (version === '0.4.0') assert.is(ip.version, '4');
      const eth0 = result.interfaces[ip.interface];
      assert.is(eth0.name, 'eth0');
      assert.is(eth0.sandbox, pin.netnsPin);
      assert.ok(ip.address.startsWith(`${net.subnet24}.`), ip.address);
      assert.equal(eth0Addrs(pin.pinName), [ip.address]);

      // The netns belongs to a new user namespace, the one pinned beside it.
      assert.ok(isNsfsMount(pin.netnsPin) && isNsfsMount(pin.usernsPin));
      const usernsInode = Number(sh('stat', ['-L', '-c', '%i', pin.usernsPin]).trim());
      const ns = inspectNamespace(pin.netnsPin);
      assert.is(ns.nsType, 'net');
      assert.is(ns.owner?.inode, usernsInode);
      assert.is(ns.owner?.isHostUserns, false);
      assert.is.not(usernsInode, hostUserns);
      assert.is(idMap(pin.usernsPin, 'uid_map'), `0 ${net.hostID} 65536`, "the conflist's static mapping");

      // Both sides remember the attachment under cnitool's container id.
      const rec = JSON.parse(readFileSync(recordPath(net, pin.netnsPin), 'utf8'));
      assert.is(rec.phase, 'ready');
      const cached = JSON.parse(readFileSync(cacheFile(env, net.name, pin.netnsPin), 'utf8'));
      assert.is(cached.containerId, cnitoolContainerId(pin.netnsPin));
      assert.equal(
        cached.result.ips.map((i: { address: string }) => i.address),
        [ip.address],
      );
      assert.equal(net.reservations(), [ip.address.split('/')[0]]);

      // CHECK: libcni sends its cached result as prevResult.
      const check = cnitool('check', env, net.name, pin.netnsPin);
      assert.is(check.status, 0, check.stdout + check.stderr);
      assert.is(check.stdout, '');

      // A broken attachment makes CHECK fail through libcni, naming the missing address.
      sh('ip', ['-n', pin.pinName, 'addr', 'flush', 'dev', 'eth0']);
      const bad = cnitool('check', env, net.name, pin.netnsPin);
      assert.is(bad.status, 1, bad.stdout + bad.stderr);
      assert.match(bad.stderr, ip.address.split('/')[0]);

      const del = cnitool('del', env, net.name, pin.netnsPin);
      assert.is(del.status, 0, del.stdout + del.stderr);
      assert.not.ok(existsSync(pin.netnsPin) || existsSync(pin.usernsPin), 'pins removed');
      assert.equal(net.vethsOnBridge(), [], 'veth removed');
      assert.equal(net.reservations(), [], 'reservation released');
      assert.not.ok(existsSync(recordPath(net, pin.netnsPin)), 'our record removed');
      assert.not.ok(existsSync(cacheFile(env, net.name, pin.netnsPin)), 'libcni cache entry removed');
      assert.equal(hostState(), before);

      // A repeated del (no cache entry now: no prevResult) is still a success.
      const again = cnitool('del', env, net.name, pin.netnsPin);
      assert.is(again.status, 0, again.stdout + again.stderr);
    });
  });
}

// Mapping tests use host ids other than the conflist's static mapping, so the uid_map shows
// which source won.
it('CAP_ARGS idMappings reach the plugin as runtimeConfig (idMappings capability) and win over the static mapping', async () => {
  let h = 0;
  const capArgs = () => JSON.stringify({ idMappings: { uidMappings: [{ containerID: 0, hostID: h, size: 65536 }] } });
  await withNet(async (net) => {
    h = net.hostID + 2 * 65536;
    const env = cnitoolEnv(net, conflist(net, '1.0.0', { capabilities: { idMappings: true } }));
    const pin = net.attachment();
    const call = { CAP_ARGS: capArgs() };
    try {
      const add = cnitool('add', env, net.name, pin.netnsPin, call);
      assert.is(add.status, 0, add.stdout + add.stderr);
      assert.is(idMap(pin.usernsPin, 'uid_map'), `0 ${h} 65536`);
      assert.is(idMap(pin.usernsPin, 'gid_map'), `0 ${h} 65536`, 'only a uid map: the gid map equals it');
      const rec = JSON.parse(readFileSync(recordPath(net, pin.netnsPin), 'utf8'));
      assert.match(JSON.stringify(rec), `"hostID":${h}`);
      assert.is(cnitool('check', env, net.name, pin.netnsPin, call).status, 0);
      const del = cnitool('del', env, net.name, pin.netnsPin, call);
      assert.is(del.status, 0, del.stdout + del.stderr);
      assert.not.ok(existsSync(pin.netnsPin) || existsSync(pin.usernsPin));
      assert.equal(net.reservations(), []);
    } finally {
      cnitool('del', env, net.name, pin.netnsPin, call);
    }
  }, 'uc');
});

it('CAP_ARGS without the idMappings capability in the conflist is dropped by libcni: the static mapping applies', async () => {
  await withCnitool('1.0.0', {}, ({ net, env, pin }) => {
    const call = { CAP_ARGS: JSON.stringify({ idMappings: { uidMappings: [{ containerID: 0, hostID: net.hostID + 2 * 65536, size: 65536 }] } }) };
    const add = cnitool('add', env, net.name, pin.netnsPin, call);
    assert.is(add.status, 0, add.stdout + add.stderr);
    assert.is(idMap(pin.usernsPin, 'uid_map'), `0 ${net.hostID} 65536`);
    assert.is(cnitool('del', env, net.name, pin.netnsPin, call).status, 0);
  });
});

it('CNI_ARGS USERNS_UID_MAP reaches the plugin through libcni (and bridge/host-local still accept the call)', async () => {
  await withNet(async (net) => {
    const h = net.hostID + 3 * 65536;
    const call = { CNI_ARGS: `USERNS_UID_MAP=0:${h}:65536` };
    const env = cnitoolEnv(net, conflist(net, '1.0.0'));
    const pin = net.attachment();
    try {
      const add = cnitool('add', env, net.name, pin.netnsPin, call);
      assert.is(add.status, 0, add.stdout + add.stderr);
      assert.is(idMap(pin.usernsPin, 'uid_map'), `0 ${h} 65536`);
      assert.is(idMap(pin.usernsPin, 'gid_map'), `0 ${h} 65536`);
      assert.equal(eth0Addrs(pin.pinName).length, 1);
      assert.is(cnitool('check', env, net.name, pin.netnsPin, call).status, 0);
      const del = cnitool('del', env, net.name, pin.netnsPin, call);
      assert.is(del.status, 0, del.stdout + del.stderr);
      assert.not.ok(existsSync(pin.netnsPin) || existsSync(pin.usernsPin));
      assert.equal(net.reservations(), []);
      assert.not.ok(existsSync(recordPath(net, pin.netnsPin)));
    } finally {
      cnitool('del', env, net.name, pin.netnsPin, call);
    }
  }, 'uc');
});

test.run();
