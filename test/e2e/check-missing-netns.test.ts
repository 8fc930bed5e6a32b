// CHECK when a path it compares does not exist (check.ts: samePath, whose realpath fails): a
// CNI_NETNS that is not there is never taken for the recorded netns, and a recorded pin removed
// by hand is reported by what verify() finds at it, not as a different path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { sh, withNet } from '../helpers/host';

test('CHECK at a CNI_NETNS that does not exist: code 100 naming it and the recorded netns', async () => {
  await withNet((net) => {
    const a = net.attachment();
    const conf = net.conf();
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    const missing = join(net.dir, 'no-such-netns');
    const r = net.run('CHECK', { containerId: a.containerId, netnsPin: missing }, { ...conf, prevResult: add.json });
    assert.is(r.json?.code, 100, r.stdout);
    assert.is(r.json.msg, `CHECK: CNI_NETNS "${missing}" is not the recorded netns "${a.netnsPin}"`);
    assert.is(net.run('CHECK', a, { ...conf, prevResult: add.json }).status, 0, 'the attachment itself is fine');
    assert.is(net.run('DEL', a, conf).status, 0);
  });
});

test('CHECK after the netns pin was unmounted and removed: the same path, so code 100 says the pin is gone', async () => {
  await withNet((net) => {
    const a = net.attachment();
    const conf = net.conf();
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    sh('sh', ['-c', `umount -l ${a.netnsPin} && rm ${a.netnsPin}`]);
    const r = net.run('CHECK', a, { ...conf, prevResult: add.json });
    assert.is(r.json?.code, 100, r.stdout);
    assert.not.match(r.json.msg, 'is not the recorded netns', r.json.msg);
    assert.match(r.json.msg, a.netnsPin);
    assert.is(net.run('DEL', a, conf).status, 0);
  });
});

test.run();
