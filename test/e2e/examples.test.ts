// Every conflist in netconf-examples/ works end to end: each is loaded as libcni would
// (name and cniVersion injected into our entry), with only the host-specific values
// swapped for this test's unique bridge, subnet, data dirs and, where the example has a static
// idMapping, this test's. An example with the allocator keeps it as written: two pods get two
// different id blocks. The adopt-only example runs on a host-owned netns and on a userns-owned
// one made the way containerd 2.x makes it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/plugin';
import { hostState, sh, withNet, type TestNet } from '../helpers/host';
import { makeRuntimeNetns, removeRuntimeNetns } from '../helpers/runtime-netns';
import { opJson } from '../cli/helpers/run-operator';

const recordOf = (net: TestNet, containerId: string) => JSON.parse(readFileSync(join(net.dataDir, 'records', `${net.name}+${containerId}+eth0.json`), 'utf8'));

const dir = join(REPO, 'netconf-examples');

function entryFor(file: string, net: TestNet): Record<string, any> {
  const list = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const entry = structuredClone(list.plugins.find((p: any) => p.type === 'userns-netns'));
  entry.name = net.name;
  entry.cniVersion = list.cniVersion;
  entry.dataDir = net.dataDir;
  if (entry.idMappings) entry.idMappings = { uidMappings: [{ containerID: 0, hostID: net.hostID, size: 65536 }] };
  const bridge = entry.delegates.find((d: any) => d.type === 'bridge');
  bridge.bridge = net.bridge;
  bridge.ipam.dataDir = net.ipamDir;
  bridge.ipam.ranges = [[{ subnet: `${net.subnet24}.0/24` }]];
  return entry;
}

for (const file of readdirSync(dir).filter((f) => f.endsWith('.conflist'))) {
  test(`example ${file}: ADD, CHECK, DEL`, async () => {
    await withNet(async (net) => {
      const before = hostState();
      const conf = entryFor(file, net);
      const a = net.attachment();
      const adopt = (conf.netnsPinDirs ?? ['x']).length === 0;
      if (adopt) sh('ip', ['netns', 'add', a.pinName]);
      try {
        if (conf.capabilities?.portMappings) conf.runtimeConfig = { portMappings: [] };
        const add = net.run('ADD', a, conf);
        assert.is(add.status, 0, add.stdout + add.stderr);
        assert.ok(add.json.ips?.length === 1, add.stdout);
        assert.is(net.reservations().length, 1);
        assert.is(net.run('CHECK', a, { ...conf, prevResult: add.json }).status, 0);
        assert.is(net.run('DEL', a, conf).status, 0);
        assert.equal(net.reservations(), []);
        assert.equal(net.vethsOnBridge(), []);
        if (adopt) assert.ok(existsSync(a.netnsPin), 'adopted netns left in place');
        if (conf.allocator) {
          // Each pod its own id block: two at once get two different ones.
          const [p1, p2] = [net.attachment(), net.attachment()];
          assert.is(net.run('ADD', p1, conf).status, 0);
          assert.is(net.run('ADD', p2, conf).status, 0);
          const [r1, r2] = [recordOf(net, p1.containerId), recordOf(net, p2.containerId)];
          assert.ok(r1.allocation && r2.allocation, 'ids from the allocator');
          assert.is.not(r1.allocation.hostID, r2.allocation.hostID);
          assert.is(r1.mappings.uidMappings[0].hostID, r1.allocation.hostID);
          for (const p of [p1, p2]) assert.is(net.run('DEL', p, conf).status, 0);
        }
        if (adopt) {
          const u = net.attachment();
          await makeRuntimeNetns(u.netnsPin, { containerID: 0, hostID: net.hostID, size: 65536 });
          try {
            const add = net.run('ADD', u, conf);
            assert.is(add.status, 0, add.stdout);
            const oci = opJson(['oci', u.containerId, '--data-dir', net.dataDir]);
            assert.equal(
              oci.linux.namespaces.map((n: any) => n.type),
              ['user', 'network'],
            );
            assert.is(net.run('DEL', u, conf).status, 0);
          } finally {
            removeRuntimeNetns(u.netnsPin);
          }
        }
      } finally {
        if (adopt) sh('ip', ['netns', 'del', a.pinName], { allowFail: true });
      }
      assert.equal(hostState(), before);
    });
  });
}

test.run();
