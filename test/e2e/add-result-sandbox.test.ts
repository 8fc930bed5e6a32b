// ADD's answer names the pod's netns by the path the runtime gave (CNI_NETNS) on the pod's
// interfaces only: the host side of the chain (bridge, host veth) has no sandbox, as the
// delegates reported it. A runtime reading the result must not think host links are the pod's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withNet } from '../helpers/host';

test("ADD's result: only the pod's interface carries a sandbox (CNI_NETNS); the bridge and the host veth carry none", async () => {
  await withNet((net) => {
    const a = net.attachment();
    const conf = net.conf();
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    const itfs = add.json.interfaces as Array<{ name: string; sandbox?: string }>;
    assert.equal(
      itfs.filter((i) => i.sandbox !== undefined).map((i) => [i.name, i.sandbox]),
      [['eth0', a.netnsPin]],
    );
    assert.ok(
      itfs.some((i) => i.name === net.bridge && i.sandbox === undefined),
      JSON.stringify(itfs),
    );
    assert.is(net.run('DEL', a, conf).status, 0);
  });
});

test.run();
