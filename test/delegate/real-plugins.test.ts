// The real Debian delegates (containernetworking-plugins 1.1.1: bridge + host-local, up to
// CNI 1.0.0) driven through probeVersions / prepareDelegateConf / invokeDelegate, for each
// config version we must answer in. Root, real kernel, unique names, everything removed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { convertResult } from '../../src/cni/result-convert';
import { compareVersions } from '../../src/cni/versions';
import { findPlugin } from '../../src/delegate/find';
import { invokeDelegate, type DelegateLogEntry } from '../../src/delegate/invoke';
import { prepareDelegateConf } from '../../src/delegate/prepare';
import { probeVersions } from '../../src/delegate/probe';
import { DEBIAN_CNI, rejectsCni } from './helpers/kit';
import { type HostFixture, addrsInNetns, bridgeConf, linksOnBridge, withHost } from './helpers/host';

type Result = {
  cniVersion: string;
  interfaces: { name: string; mac?: string; sandbox?: string }[];
  ips: { version?: string; address: string; gateway?: string; interface?: number }[];
};

function envFor(h: HostFixture, netns = h.netnsPath) {
  // CNI_ARGS with a key bridge does not know: only IgnoreUnknown=1 (added by us) lets it pass.
  return { containerId: h.containerId, netns, ifname: 'eth0', cniPath: DEBIAN_CNI, cniArgs: 'K8S_POD_NAME=uxd' };
}

function reservations(h: HostFixture): string[] {
  const d = join(h.dataDir, h.network);
  return existsSync(d) ? readdirSync(d).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
}

for (const configVersion of ['0.4.0', '1.0.0', '1.1.0']) {
  test(`bridge + host-local ADD, CHECK, DEL for a ${configVersion} config`, () =>
    withHost(async (h) => {
      const bridge = findPlugin('bridge', `/nonexistent:${DEBIAN_CNI}`);
      const versions = await probeVersions(bridge, { cacheDir: h.cacheDir, cniPath: DEBIAN_CNI });
      const conf = prepareDelegateConf(bridgeConf(h), { name: h.network, cniVersion: configVersion, delegateVersions: versions });
      const chosen = configVersion === '0.4.0' ? '0.4.0' : '1.0.0';
      assert.is(conf.cniVersion, chosen, 'highest common version, capped at the config');

      const logs: DelegateLogEntry[] = [];
      const raw = (await invokeDelegate({ binary: bridge, command: 'ADD', netconf: conf, env: envFor(h), log: (e) => logs.push(e) })) as Result;
      assert.is(raw.cniVersion, chosen);
      const result = convertResult(raw, configVersion) as Result;
      assert.is(result.cniVersion, configVersion);

      // The printed result matches the kernel and host-local's state.
      assert.is(result.ips.length, 1);
      const ipc = result.ips[0]!;
      assert.ok(ipc.address.startsWith(`${h.subnet24}.`), ipc.address);
      assert.is(ipc.gateway, `${h.subnet24}.1`);
      assert.is(ipc.version, compareVersions(configVersion, '1.0.0') < 0 ? '4' : undefined);
      const eth0 = result.interfaces[ipc.interface!]!;
      assert.equal([eth0.name, eth0.sandbox], ['eth0', h.netnsPath]);
      assert.equal(addrsInNetns(h, 'eth0'), [ipc.address]);
      assert.equal(reservations(h), [ipc.address.split('/')[0]]);
      assert.is(linksOnBridge(h).length, 1, 'one veth on our bridge');
      assert.is(logs[0]!.exitCode, 0);

      // CHECK gets the result back in the delegate's version.
      const checkConf = prepareDelegateConf(bridgeConf(h), {
        name: h.network,
        cniVersion: configVersion,
        delegateVersions: versions,
        prevResult: result,
      });
      assert.is((checkConf.prevResult as Result).cniVersion, chosen);
      assert.is(await invokeDelegate({ binary: bridge, command: 'CHECK', netconf: checkConf, env: envFor(h) }), undefined);

      await invokeDelegate({ binary: bridge, command: 'DEL', netconf: conf, env: envFor(h) });
      assert.equal(reservations(h), [], 'reservation released');
      assert.equal(addrsInNetns(h, 'eth0'), [], 'eth0 gone');
      assert.equal(linksOnBridge(h), [], 'veth gone');
      // DEL is idempotent.
      await invokeDelegate({ binary: bridge, command: 'DEL', netconf: conf, env: envFor(h) });
    }));
}

test('DEL with empty CNI_NETNS still releases the host-local reservation', () =>
  withHost(async (h) => {
    const bridge = findPlugin('bridge', DEBIAN_CNI);
    const conf = prepareDelegateConf(bridgeConf(h), { name: h.network, cniVersion: '1.0.0' });
    await invokeDelegate({ binary: bridge, command: 'ADD', netconf: conf, env: envFor(h) });
    assert.is(reservations(h).length, 1);
    await invokeDelegate({ binary: bridge, command: 'DEL', netconf: conf, env: envFor(h, '') });
    assert.equal(reservations(h), []);
  }));

test("CHECK fails with the delegate's error when the address was removed", () =>
  withHost(async (h) => {
    const bridge = findPlugin('bridge', DEBIAN_CNI);
    const conf = prepareDelegateConf(bridgeConf(h), { name: h.network, cniVersion: '1.0.0' });
    const result = await invokeDelegate({ binary: bridge, command: 'ADD', netconf: conf, env: envFor(h) });
    const { execFileSync } = await import('node:child_process');
    execFileSync('ip', ['-n', h.netnsName, 'addr', 'flush', 'dev', 'eth0']);
    const checkConf = prepareDelegateConf(bridgeConf(h), { name: h.network, cniVersion: '1.0.0', prevResult: result });
    const e = await rejectsCni(invokeDelegate({ binary: bridge, command: 'CHECK', netconf: checkConf, env: envFor(h) }));
    assert.ok(e.details.startsWith('delegate "bridge" (CHECK)'), e.details);
    const theirs = JSON.parse((e.cause as { stdout: string }).stdout) as { code: number; msg: string };
    assert.equal([e.code, e.message], [theirs.code, theirs.msg], "code and msg are the delegate's own");
    await invokeDelegate({ binary: bridge, command: 'DEL', netconf: conf, env: envFor(h) });
  }));

test("an unknown IPAM type: the error surfaces with the delegate's code, bridge named in details", () =>
  withHost(async (h) => {
    const bridge = findPlugin('bridge', DEBIAN_CNI);
    const conf = prepareDelegateConf(bridgeConf(h, 'uxd-no-such-ipam'), { name: h.network, cniVersion: '1.0.0' });
    const logs: DelegateLogEntry[] = [];
    const e = await rejectsCni(invokeDelegate({ binary: bridge, command: 'ADD', netconf: conf, env: envFor(h), log: (x) => logs.push(x) }));
    const theirs = JSON.parse((e.cause as { stdout: string }).stdout) as { code: number; msg: string };
    assert.is(e.code, theirs.code);
    assert.is(e.message, theirs.msg);
    assert.match(e.message, /uxd-no-such-ipam/);
    assert.ok(e.details.startsWith('delegate "bridge" (ADD)'), e.details);
    assert.is(logs[0]!.exitCode, 1);
    assert.equal(reservations(h), []);
    // withHost's cleanup removes the netns, taking the veth bridge 1.1.1 leaves behind with it.
  }));

test.run();
