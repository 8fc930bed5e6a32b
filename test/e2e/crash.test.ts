// Crash safety: an ADD killed (SIGKILL) or failed at every named point between its steps
// leaves enough on disk for DEL, GC or a retried ADD to put the host back exactly as before.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { addFailpoints, DEL_FAILPOINTS } from '../../src/attachment/journal';
import { failpointEnv } from '../../src/attachment/failpoints';
import { CNI_BIN, PLUGIN, mutantEnv } from '../helpers/plugin';
import { hostState, withNet, type TestNet } from '../helpers/host';

// Every point a create-mode ADD with crashConf's two delegates passes, from the journal's list.
const ADD_POINTS = addFailpoints('create', 2);

function snapshot(net: TestNet) {
  const recDir = join(net.dataDir, 'records');
  const table = join(net.dataDir, 'allocations.json');
  return {
    host: hostState(),
    veths: net.vethsOnBridge(),
    reservations: net.reservations(),
    records: existsSync(recDir) ? readdirSync(recDir) : [],
    allocations: existsSync(table) ? JSON.parse(readFileSync(table, 'utf8')).blocks : [],
  };
}

/**
 * Two delegates, so there are points between delegates too (bridge, then a no-op tuning),
 * and the allocator (a pool of this test's own) instead of a static mapping.
 */
function crashConf(net: TestNet, extra: Record<string, unknown> = {}) {
  const conf = net.conf('1.0.0', { allocator: { start: Math.floor(net.hostID / 65536) * 65536, count: 4 }, ...extra }, [net.bridgeDelegate(), { type: 'tuning', sysctl: {} }]);
  delete conf.idMappings;
  return conf;
}

for (const point of ADD_POINTS) {
  for (const after of ['DEL', 'GC', 'retried ADD then DEL'] as const) {
    test(`ADD killed at ${point}, then ${after}: nothing left`, async () => {
      await withNet(async (net) => {
        const conf = crashConf(net);
        const empty = snapshot(net);
        const a = net.attachment();
        const killed = net.run('ADD', a, conf, failpointEnv(point, 'kill'));
        assert.is(killed.status, null, `killed by a signal: ${killed.stdout}`);
        if (after === 'DEL') {
          const r = net.run('DEL', a, conf, { CNI_NETNS: '' });
          assert.is(r.status, 0, r.stdout);
        } else if (after === 'GC') {
          const r = net.run('GC', a, { ...conf, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] });
          assert.is(r.status, 0, r.stdout);
        } else if (point === 'add-after-record') {
          // The record was complete: the ADD had succeeded, only its answer was lost. A second
          // ADD is a duplicate and changes nothing (runtimes DEL before they retry); DEL cleans.
          const again = net.run('ADD', a, conf);
          assert.is(again.json?.code, 105, again.stdout);
          assert.is(net.run('DEL', a, conf).status, 0);
        } else {
          const again = net.run('ADD', a, conf);
          assert.is(again.status, 0, again.stdout);
          assert.is(net.reservations().length, 1);
          assert.is(net.run('CHECK', a, { ...conf, prevResult: again.json }).status, 0);
          assert.is(net.run('DEL', a, conf).status, 0);
        }
        assert.equal(snapshot(net), empty);
      });
    });
  }

  test(`ADD failing at ${point} rolls back by itself`, async () => {
    await withNet(async (net) => {
      const conf = crashConf(net);
      const empty = snapshot(net);
      const r = net.run('ADD', net.attachment(), conf, failpointEnv(point, 'fail'));
      assert.is(r.status, 1);
      assert.match(r.json.msg, `failpoint ${point}`);
      assert.equal(snapshot(net), empty);
    });
  });
}

for (const point of DEL_FAILPOINTS) {
  test(`DEL killed at ${point}, then DEL again: nothing left`, async () => {
    await withNet(async (net) => {
      const conf = crashConf(net);
      const empty = snapshot(net);
      const a = net.attachment();
      assert.is(net.run('ADD', a, conf).status, 0);
      const killed = net.run('DEL', a, conf, failpointEnv(point, 'kill'));
      assert.is(killed.status, null);
      assert.is(net.run('DEL', a, conf).status, 0);
      assert.equal(snapshot(net), empty);
    });
  });
}

test('soak: 100 ADDs killed at random moments, each followed by DEL, leak nothing', async () => {
  await withNet(async (net) => {
    const conf = crashConf(net);
    const empty = snapshot(net);
    let completed = 0;
    for (let i = 0; i < 100; i++) {
      const a = net.attachment();
      const env = { PATH: process.env.PATH!, ...mutantEnv(), CNI_COMMAND: 'ADD', CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netnsPin, CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN };
      const child = spawn(PLUGIN, [], { env, stdio: ['pipe', 'ignore', 'ignore'] });
      child.stdin.end(JSON.stringify(conf));
      const delay = Math.floor(Math.random() * 450);
      const timer = setTimeout(() => child.kill('SIGKILL'), delay);
      const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
      clearTimeout(timer);
      if (code === 0) completed++;
      const del = net.run('DEL', a, conf);
      assert.is(del.status, 0, `round ${i} (killed after ${delay} ms): ${del.stdout}`);
    }
    assert.equal(snapshot(net), empty);
    // Not a target, but a soak where nothing was ever killed mid-way would prove little.
    assert.ok(completed < 100, `${completed} of 100 ADDs completed before the kill`);
  });
});

test.run();
