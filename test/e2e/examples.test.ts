// Every conflist in netconf-examples/ works end to end: each is loaded as libcni would
// (name and cniVersion injected into our entry), with only the host-specific values
// swapped for this test's unique bridge, subnet, data dirs and an idMapping.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/plugin';
import { hostState, sh, withNet, type TestNet } from '../helpers/host';

const dir = join(REPO, 'netconf-examples');

function entryFor(file: string, net: TestNet): Record<string, any> {
  const list = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const entry = structuredClone(list.plugins.find((p: any) => p.type === 'userns-netns'));
  entry.name = net.name;
  entry.cniVersion = list.cniVersion;
  entry.dataDir = net.dataDir;
  entry.idMappings = { uidMappings: [{ containerID: 0, hostID: net.hostID, size: 65536 }] };
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
      } finally {
        if (adopt) sh('ip', ['netns', 'del', a.pinName], { allowFail: true });
      }
      assert.equal(hostState(), before);
    });
  });
}

test.run();
