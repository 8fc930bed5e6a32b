// Crash safety in adopt mode, as crash.test.ts shows it for create mode: on a netns a runtime
// made inside the pod's user namespace (containerd 2.x, CRI-O), an ADD failed or killed at each
// point an adopt-mode ADD passes (the journal's list) leaves only what the runtime made - the
// owner pin we added, the delegates' veth and IP, the record all go - and the points only a
// create-mode ADD passes are never reached (nor the adopt-only one in create mode), so the list
// the crash tests loop over is exactly what each mode does.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ADD_FAILPOINTS, addFailpoints } from '../../src/attachment/journal';
import { failpointEnv } from '../../src/attachment/failpoints';
import { hostState, isNsfsMount, withNet, type TestNet } from '../helpers/host';
import { killedByFailpoint } from '../helpers/plugin';
import { makeRuntimeNetns, removeRuntimeNetns, type RuntimeNetns } from '../helpers/runtime-netns';

type Attachment = ReturnType<TestNet['attachment']>;

/** Two delegates (bridge, then a no-op tuning), so there are points between delegates too. */
function adoptConf(net: TestNet) {
  return net.conf('1.0.0', { netnsPinDirs: [] }, [net.bridgeDelegate(), { type: 'tuning', sysctl: {} }]);
}

function snapshot(net: TestNet) {
  const recDir = join(net.dataDir, 'records');
  return { host: hostState(), veths: net.vethsOnBridge(), reservations: net.reservations(), records: existsSync(recDir) ? readdirSync(recDir) : [] };
}

/** A network and a runtime's userns-owned netns at one of its attachment paths, removed after `fn` whatever happens. */
async function withRuntimeNetns(fn: (net: TestNet, a: Attachment, made: RuntimeNetns) => void): Promise<void> {
  await withNet(async (net) => {
    const a = net.attachment();
    try {
      const made = await makeRuntimeNetns(a.netnsPin, { containerID: 0, hostID: net.hostID, size: 65536 });
      fn(net, a, made);
    } finally {
      removeRuntimeNetns(a.netnsPin);
    }
  });
}

/** Only the runtime's netns is left, as it was: no owner pin, veth, IP or record of ours. */
function onlyTheRuntimesNetns(net: TestNet, a: Attachment, made: RuntimeNetns, before: ReturnType<typeof snapshot>): void {
  assert.equal(snapshot(net), before);
  assert.ok(isNsfsMount(a.netnsPin) && statSync(a.netnsPin).ino === made.netnsInode, "the runtime's netns stays, the same one");
}

const ADOPT_POINTS = addFailpoints('adopt', 2);

for (const point of ADOPT_POINTS) {
  test(`adopt mode: ADD failing at ${point} rolls back by itself, the runtime's netns stays`, async () => {
    await withRuntimeNetns((net, a, made) => {
      const conf = adoptConf(net);
      const before = snapshot(net);
      const r = net.run('ADD', a, conf, failpointEnv(point, 'fail'));
      assert.is(r.status, 1, r.stdout);
      assert.is(r.json?.msg, `failpoint ${point}`);
      onlyTheRuntimesNetns(net, a, made, before);
    });
  });

  test(`adopt mode: ADD killed at ${point}, then DEL: nothing of ours left`, async () => {
    await withRuntimeNetns((net, a, made) => {
      const conf = adoptConf(net);
      const before = snapshot(net);
      const killed = net.run('ADD', a, conf, failpointEnv(point, 'kill'));
      assert.ok(killedByFailpoint(killed), `killed: ${killed.status} ${killed.stdout}`);
      const del = net.run('DEL', a, conf);
      assert.is(del.status, 0, del.stdout);
      onlyTheRuntimesNetns(net, a, made, before);
    });
  });
}

test('the points only a create-mode ADD passes are never reached in adopt mode: armed, the ADD succeeds', async () => {
  const skipped = ADD_FAILPOINTS.filter((p) => !ADOPT_POINTS.includes(p));
  assert.ok(skipped.includes('add-after-pin'), `skipped: ${skipped.join(', ')}`);
  for (const point of skipped) {
    await withRuntimeNetns((net, a, made) => {
      const conf = adoptConf(net);
      const before = snapshot(net);
      const r = net.run('ADD', a, conf, failpointEnv(point, 'fail'));
      assert.is(r.status, 0, `${point}: ${r.stdout}`);
      assert.is(net.run('DEL', a, conf).status, 0);
      onlyTheRuntimesNetns(net, a, made, before);
    });
  }
});

test('the adopt-only point is never reached in create mode: armed, the ADD succeeds', async () => {
  const createPoints: readonly string[] = addFailpoints('create', 1);
  const skipped = ADD_FAILPOINTS.filter((p) => !createPoints.includes(p));
  assert.equal(skipped, ['add-after-owner-pin']);
  await withNet((net) => {
    const a = net.attachment();
    const conf = net.conf();
    const r = net.run('ADD', a, conf, failpointEnv('add-after-owner-pin', 'fail'));
    assert.is(r.status, 0, r.stdout);
    assert.is(net.run('DEL', a, conf).status, 0);
  });
});

test.run();
