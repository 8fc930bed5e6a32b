// Delegates marked "runInPodUserns": they run inside the pod's user namespace and netns as its
// root (the mapped host ids) for ADD, CHECK and DEL, unmarked ones as host root; the key never
// reaches the delegate; a netns without a pod user namespace (host-owned, adopted) is refused
// with code 7 before anything happens; a binary the pod's root cannot run is named.
// The reporting delegate (fixtures/seeing-delegate.sh) sits in a chain with real bridge + host-local.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_BIN } from '../helpers/plugin';
import { hostState, sh, withNet, type TestNet } from '../helpers/host';
import { makeRuntimeNetns, removeRuntimeNetns } from '../helpers/runtime-netns';

const SEER_SCRIPT = join(import.meta.dirname, 'fixtures', 'seeing-delegate.sh');

interface Seen {
  uid: number;
  gid: number;
  uidMap: string;
  userns: string;
  netns: string;
  cniNetns: string;
  keyPassed: boolean;
}

/** Two copies of the reporting delegate: "podseer" (marked in the chains below) and "hostseer". */
function installSeers(net: TestNet) {
  const bin = join(net.dir, 'fakebin');
  const seenDir = join(net.dir, 'seen');
  mkdirSync(bin, { recursive: true, mode: 0o755 });
  mkdirSync(seenDir, { recursive: true });
  chmodSync(net.dir, 0o711); // the pod's root must reach its binary and write its report
  chmodSync(seenDir, 0o777);
  for (const name of ['podseer', 'hostseer']) copyFileSync(SEER_SCRIPT, join(bin, name));
  return {
    bin,
    env: { CNI_PATH: `${bin}:${CNI_BIN}` },
    chain: (marked: unknown = true) => [net.bridgeDelegate(), { type: 'podseer', seenDir, runInPodUserns: marked }, { type: 'hostseer', seenDir }],
    seen: (name: string, command: string): Seen | undefined => {
      const f = join(seenDir, `${name}-${command}.json`);
      return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : undefined;
    },
    reports: () => readdirSync(seenDir).sort(),
  };
}

const nsLink = (type: 'user' | 'net', inode: number) => `${type}:[${inode}]`;
const recordOf = (net: TestNet, containerId: string) => JSON.parse(readFileSync(join(net.dataDir, 'records', `${net.name}+${containerId}+eth0.json`), 'utf8'));

test("create mode: the marked delegate runs as the pod's root in its user namespace and netns for ADD, CHECK and DEL; the unmarked one as host root", async () => {
  await withNet((net) => {
    const s = installSeers(net);
    const a = net.attachment();
    const conf = net.conf('1.0.0', {}, s.chain());
    const add = net.run('ADD', a, conf, s.env);
    assert.is(add.status, 0, add.stdout);
    assert.ok((add.json.ips ?? []).length > 0, "the chain result is bridge's, passed on by both");
    const rec = recordOf(net, a.containerId);
    assert.equal(
      rec.delegates.map((d: { runInPodUserns?: boolean }) => d.runInPodUserns),
      [undefined, true, undefined],
      'the mark is recorded for DEL',
    );
    assert.not.ok('runInPodUserns' in rec.delegates[1].conf, 'and kept out of the recorded config');

    const pod = { uid: 0, gid: 0, uidMap: `0 ${net.hostID} 65536`, userns: nsLink('user', rec.userns.inode), netns: nsLink('net', rec.netns.inode), cniNetns: a.netnsPin, keyPassed: false };
    const host = { uid: 0, gid: 0, uidMap: '0 0 4294967295', userns: readlinkSync('/proc/self/ns/user'), netns: readlinkSync('/proc/self/ns/net'), cniNetns: a.netnsPin, keyPassed: false };
    assert.equal(s.seen('podseer', 'ADD'), pod, 'ADD: inside the pod');
    assert.equal(s.seen('hostseer', 'ADD'), host, 'ADD: unmarked, on the host');
    // The pod's root is the mapped host id: the report it wrote is owned by it on the host.
    assert.is(statSync(join(net.dir, 'seen', 'podseer-ADD.json')).uid, net.hostID);

    const check = net.run('CHECK', a, { ...conf, prevResult: add.json }, s.env);
    assert.is(check.status, 0, check.stdout);
    assert.equal(s.seen('podseer', 'CHECK'), pod, 'CHECK: inside the pod');
    assert.equal(s.seen('hostseer', 'CHECK'), host);

    const del = net.run('DEL', a, conf, s.env);
    assert.is(del.status, 0, del.stdout);
    assert.equal(s.seen('podseer', 'DEL'), pod, 'DEL: inside the pod');
    assert.equal(s.seen('hostseer', 'DEL'), host);
    assert.equal(net.reservations(), []);
    assert.equal(net.vethsOnBridge(), []);
    assert.not.ok(existsSync(a.netnsPin) || existsSync(a.usernsPin), 'pins removed');
  }, 'pu');
});

test("adopt mode, a netns the runtime made in the pod's user namespace: the marked delegate runs in that (adopted) user namespace", async () => {
  await withNet(async (net) => {
    const s = installSeers(net);
    const a = net.attachment();
    const map = { containerID: 0, hostID: net.hostID + 65536, size: 65536 };
    try {
      const made = await makeRuntimeNetns(a.netnsPin, map);
      const conf = net.conf('1.0.0', { netnsPinDirs: [] }, s.chain());
      const add = net.run('ADD', a, conf, s.env);
      assert.is(add.status, 0, add.stdout);
      const pod = { uid: 0, gid: 0, uidMap: `0 ${map.hostID} 65536`, userns: nsLink('user', made.usernsInode), netns: nsLink('net', made.netnsInode), cniNetns: a.netnsPin, keyPassed: false };
      assert.equal(s.seen('podseer', 'ADD'), pod);
      assert.is(s.seen('hostseer', 'ADD')?.userns, readlinkSync('/proc/self/ns/user'));
      assert.is(net.run('CHECK', a, { ...conf, prevResult: add.json }, s.env).status, 0);
      assert.equal(s.seen('podseer', 'CHECK'), pod);
      assert.is(net.run('DEL', a, conf, s.env).status, 0);
      assert.equal(s.seen('podseer', 'DEL'), pod);
      assert.equal(net.reservations(), []);
      assert.equal(net.vethsOnBridge(), []);
    } finally {
      removeRuntimeNetns(a.netnsPin);
    }
  }, 'pu');
});

test('adopt mode, a host-owned netns: runInPodUserns is refused with code 7 naming the key and the delegate, and nothing is left', async () => {
  await withNet((net) => {
    const s = installSeers(net);
    const a = net.attachment();
    sh('ip', ['netns', 'add', a.pinName]);
    try {
      const before = hostState();
      const add = net.run('ADD', a, net.conf('1.0.0', {}, s.chain()), s.env);
      assert.is(add.json?.code, 7, add.stdout);
      assert.match(add.json.msg, 'delegates[1].runInPodUserns');
      assert.match(add.json.msg, '"podseer"');
      assert.match(add.json.msg, a.netnsPin);
      assert.equal(s.reports(), [], 'no delegate ran');
      assert.equal(net.vethsOnBridge(), []);
      assert.equal(net.reservations(), []);
      assert.not.ok(existsSync(net.dataDir), 'no data dir, record or lock');
      assert.equal(hostState(), before);
      assert.ok(existsSync(a.netnsPin), 'the netns is left as it was');
    } finally {
      sh('ip', ['netns', 'del', a.pinName], { allowFail: true });
    }
  }, 'pu');
});

test("a marked delegate the pod's root cannot execute: code 7 naming the binary, the ADD rolled back", async () => {
  await withNet((net) => {
    const s = installSeers(net);
    chmodSync(join(s.bin, 'podseer'), 0o700); // root's own: "other" has no execute bit
    const a = net.attachment();
    const add = net.run('ADD', a, net.conf('1.0.0', {}, s.chain()), s.env);
    assert.is(add.json?.code, 7, add.stdout);
    assert.match(add.json.msg, 'runInPodUserns');
    assert.match(add.json.msg, join(s.bin, 'podseer'));
    assert.match(add.json.msg, 'not executable');
    assert.equal(s.reports(), []);
    assert.equal(net.vethsOnBridge(), [], "bridge's ADD undone");
    assert.equal(net.reservations(), []);
    assert.not.ok(existsSync(a.netnsPin) || existsSync(a.usernsPin));
  }, 'pu');
});

test('runInPodUserns that is not a boolean: code 7 naming the key and the value', async () => {
  await withNet((net) => {
    const s = installSeers(net);
    const a = net.attachment();
    const add = net.run('ADD', a, net.conf('1.0.0', {}, s.chain('yes')), s.env);
    assert.is(add.json?.code, 7, add.stdout);
    assert.match(add.json.msg, 'delegates[1].runInPodUserns');
    assert.not.ok(existsSync(net.dataDir));
  }, 'pu');
});

test('DEL after the netns is gone: the marked delegate still gets its DEL, on the host with an empty CNI_NETNS', async () => {
  await withNet((net) => {
    const s = installSeers(net);
    const a = net.attachment();
    const conf = net.conf('1.0.0', {}, s.chain());
    assert.is(net.run('ADD', a, conf, s.env).status, 0);
    sh('umount', ['-l', a.netnsPin]); // the netns is gone; the pin path is a plain file now
    const del = net.run('DEL', a, conf, s.env);
    assert.is(del.status, 0, del.stdout);
    const seen = s.seen('podseer', 'DEL');
    assert.is(seen?.cniNetns, '');
    assert.is(seen?.userns, readlinkSync('/proc/self/ns/user'));
    assert.equal(net.reservations(), [], 'host-local released');
  }, 'pu');
});

test.run();
