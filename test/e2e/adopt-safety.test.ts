// What adopt mode must never take: the host's own network namespace, and the pins a damaged
// record left at CNI_NETNS (they are ours, but nothing proves it any more).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { killedByFailpoint } from '../helpers/plugin';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspectNamespace } from '../../src/ns';
import { hostState, isNsfsMount, sh, withNet, type TestNet } from '../helpers/host';
import { uniqueName } from '../helpers/unique';
import { failpointEnv } from '../../src/attachment/failpoints';

function canStat(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function recordPath(net: TestNet, containerId: string): string {
  return join(net.dataDir, 'records', `${net.name}+${containerId}+eth0.json`);
}

test("adopt mode refuses the host's own netns, however it is spelled (code 4), before anything is written", async () => {
  await withNet(async (net) => {
    const before = hostState();
    const hostAddrs = sh('ip', ['-o', 'addr', 'show', 'dev', 'eth0'], { allowFail: true });
    // /proc/1/ns/* may be closed to us (a sandboxed pid 1): then the host netns is the one
    // this test (and the plugin it starts) runs in.
    const initVisible = canStat('/proc/1/ns/net');
    const ifname = uniqueName('uxi');
    // No gateway, no routes: nothing a wrongly adopted host netns would have its routes changed by.
    const conf = net.conf('1.0.0', {}, [net.bridgeDelegate({ isGateway: false, ipam: { type: 'host-local', dataDir: net.ipamDir, ranges: [[{ subnet: `${net.subnet24}.0/24` }]] } })]);
    const bound = net.attachment(); // the host netns bind-mounted at a pin path
    sh('touch', [bound.netnsPin]);
    sh('mount', ['--bind', initVisible ? '/proc/1/ns/net' : '/proc/self/ns/net', bound.netnsPin]);
    try {
      for (const path of ['/proc/self/ns/net', '/proc/thread-self/ns/net', `/proc/${process.pid}/ns/net`, bound.netnsPin, ...(initVisible ? ['/proc/1/ns/net'] : [])]) {
        const a = { ...net.attachment(), netnsPin: path };
        // An ifname the host does not have: were the host netns adopted, nothing of the
        // host's would be at stake, and cleanup removes what a delegate made there.
        const r = net.run('ADD', a, conf, { CNI_IFNAME: ifname });
        assert.is(r.json?.code, 4, `${path}: ${r.stdout}`);
        assert.match(r.json.msg, JSON.stringify(path));
        assert.match(r.json.msg, /initial network namespace|the plugin itself runs in/);
        assert.not.ok(existsSync(net.dataDir), `${path}: no data dir, no lock, no record`);
      }
      assert.equal(net.vethsOnBridge(), []);
      assert.is(sh('ip', ['-o', 'addr', 'show', 'dev', 'eth0'], { allowFail: true }), hostAddrs, "the host's eth0 untouched");
    } finally {
      sh('umount', [bound.netnsPin], { allowFail: true });
      sh('ip', ['link', 'del', ifname], { allowFail: true });
    }
    net.cleanup();
    assert.equal(hostState(), before);
  });
});

test('a damaged record whose pins cannot be read: the retried ADD does not adopt them, and says what to remove', async () => {
  await withNet(async (net) => {
    const before = hostState();
    const conf = net.conf();
    const a = net.attachment();
    const killed = net.run('ADD', a, conf, failpointEnv('add-after-pin', 'kill'));
    assert.ok(killedByFailpoint(killed), killed.stdout);
    writeFileSync(recordPath(net, a.containerId), ''); // damaged beyond salvage
    const inode = inspectNamespace(a.netnsPin).inode;

    const retry = net.run('ADD', a, conf);
    assert.is(retry.json?.code, 4, retry.stdout);
    assert.match(retry.json.msg, 'no record');
    assert.match(retry.json.msg, `umount -l ${a.netnsPin} && rm ${a.netnsPin} && umount -l ${a.usernsPin} && rm ${a.usernsPin}`);
    assert.is(inspectNamespace(a.netnsPin).inode, inode, 'left in place, unproven');
    assert.not.ok(existsSync(recordPath(net, a.containerId)), 'nothing adopted');
    assert.equal(net.reservations(), []);
    const again = net.run('ADD', a, conf);
    assert.is(again.json?.code, 4, 'refused on every retry, not only the first');

    assert.is(net.run('DEL', a, conf).status, 0);
    // Doing what the message says makes the path usable again.
    for (const p of [a.netnsPin, a.usernsPin]) sh('sh', ['-c', `umount -l ${p} && rm ${p}`]);
    const fresh = net.run('ADD', a, conf);
    assert.is(fresh.status, 0, fresh.stdout);
    assert.is(JSON.parse(readFileSync(recordPath(net, a.containerId), 'utf8')).mode, 'create');
    assert.is(net.run('DEL', a, conf).status, 0);
    assert.equal(net.reservations(), []);
    assert.equal(hostState(), before);
  });
});

test('a damaged record cut between its netns and userns references: the retried ADD starts afresh, DEL leaves no pins', async () => {
  await withNet(async (net) => {
    const before = hostState();
    const conf = net.conf();
    const a = net.attachment();
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    const file = recordPath(net, a.containerId);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, text.indexOf('"userns":'))); // the netns reference survives
    const oldToken = JSON.parse(text).netns.token;

    const retry = net.run('ADD', a, conf);
    assert.is(retry.status, 0, retry.stdout);
    const rec = JSON.parse(readFileSync(file, 'utf8'));
    assert.is(rec.mode, 'create', 'not adopted');
    assert.is.not(rec.netns.token, oldToken, 'pins of its own (namespace inodes are recycled: not a test)');
    assert.is(net.reservations().length, 1);

    assert.is(net.run('DEL', a, conf).status, 0);
    assert.not.ok(existsSync(a.netnsPin) || existsSync(a.usernsPin), 'no pins left');
    assert.ok(!isNsfsMount(a.netnsPin));
    assert.equal(net.reservations(), []);
    assert.equal(net.vethsOnBridge(), []);
    assert.equal(hostState(), before);
  });
});

test.run();
