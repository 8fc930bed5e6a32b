// The journal's list of ADD failpoints (addFailpoints) is in the order an ADD passes them, in
// both modes: with two neighbours of the list armed, the ADD fails at the earlier one. (The crash
// tests loop over this list; journal.ts's table reads in the same order.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addFailpoints, delegateFailpoints } from '../../src/attachment/journal';
import { hostState, withNet, type TestNet } from '../helpers/host';
import { makeRuntimeNetns, removeRuntimeNetns } from '../helpers/runtime-netns';

const twoDelegates = (net: TestNet) => [net.bridgeDelegate(), { type: 'tuning', sysctl: {} }];

/** Arms each pair of neighbours in `points` and expects the earlier to stop the ADD, which rolls back. */
function inOrder(net: TestNet, a: { containerId: string; netnsPin: string }, conf: Record<string, unknown>, points: string[]): void {
  for (const i of [0, 1]) for (const p of delegateFailpoints(i)) assert.ok(points.includes(p), `${p} listed: the ADD passes it`);
  assert.is(points.at(-1), 'add-after-record', 'the last point: after the record is ready');
  const before = { host: hostState(), reservations: net.reservations() };
  for (let i = 0; i + 1 < points.length; i++) {
    const [first, next] = [points[i]!, points[i + 1]!];
    // The later one named first in the variable: the order comes from the ADD, not the variable.
    const r = net.run('ADD', a, conf, { USERNS_NETNS_FAILPOINTS: `${next}=fail,${first}=fail` });
    assert.is(r.json?.msg, `failpoint ${first}`, `${first} comes before ${next}`);
    assert.equal({ host: hostState(), reservations: net.reservations() }, before);
  }
}

test('create mode: the list is in the order an ADD passes it', async () => {
  await withNet((net) => {
    inOrder(net, net.attachment(), net.conf('1.0.0', {}, twoDelegates(net)), addFailpoints('create', 2));
  });
});

test('adopt mode (a runtime netns owned by the pod userns): the list is in the order an ADD passes it', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    try {
      await makeRuntimeNetns(a.netnsPin, { containerID: 0, hostID: net.hostID, size: 65536 });
      inOrder(net, a, net.conf('1.0.0', { netnsPinDirs: [] }, twoDelegates(net)), addFailpoints('adopt', 2));
    } finally {
      removeRuntimeNetns(a.netnsPin);
    }
  });
});

test.run();
