// withPodUserns on its own: a delegate marked runInPodUserns is started through nsenter into the
// recorded netns and its recorded owner, named by fds we opened and checked - or not at all
// when the pin at the path is another netns, its owner is not the recorded one (or is the
// host's), or the pin is gone. Every fd it opened is closed once the launch settles.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { refuseMarkedDelegatesOnHostOwned, withPodUserns, type DelegateNetns } from '../../src/attachment/pod-userns';
import { CniError, ErrorCode } from '../../src/cni/errors';
import type { DelegateLauncher } from '../../src/delegate';
import { hostUsernsInode, type CreatedNamespaces } from '../../src/ns/index';
import { cleanupRoot, ONE, openFdCount, pinnedPair } from '../helpers/ns-util';

test.after(() => cleanupRoot());

const BINARY = '/bin/true';

const netnsOf = (ns: CreatedNamespaces): DelegateNetns => ({ path: ns.netnsPin, inode: ns.netnsInode, usernsInode: ns.usernsInode, hostOwned: false, mappings: ONE });

/** withPodUserns must refuse with `code` and exactly `msg`, never call the launch, and leave no fd open. */
async function refused(netns: DelegateNetns, code: number, msg: string, binary = BINARY): Promise<void> {
  const before = openFdCount();
  let launched = false;
  let err: unknown;
  try {
    await withPodUserns('bridge', binary, netns, async () => {
      launched = true;
    });
  } catch (e) {
    err = e;
  }
  assert.not.ok(launched, 'the delegate is not started');
  assert.instance(err, CniError, `expected a CniError, got ${String(err)}`);
  assert.is((err as CniError).code, code);
  assert.is((err as CniError).message, msg);
  assert.is(openFdCount(), before, 'every fd withPodUserns opened is closed');
}

test("the recorded netns and owner: the launcher enters both as the pod's root; its fds are closed after the launch", async () => {
  const a = await pinnedPair();
  try {
    const before = openFdCount();
    const seen = await withPodUserns('bridge', BINARY, netnsOf(a.ns), async (via: DelegateLauncher) => {
      const out = execFileSync(via.file, [...via.args, 'sh', '-c', 'id -u; id -g; stat -L -c %i /proc/self/ns/net /proc/self/ns/user; cat /proc/self/uid_map'], { encoding: 'utf8' });
      return out.trim().split(/\s+/);
    });
    assert.equal(seen, ['0', '0', String(a.ns.netnsInode), String(a.ns.usernsInode), '0', '100000', '65536']);
    assert.is(openFdCount(), before, 'netns and userns fds closed');
  } finally {
    a.drop();
  }
});

test('a launch that fails: its error is passed on and the fds are closed all the same', async () => {
  const a = await pinnedPair();
  try {
    const before = openFdCount();
    let err: unknown;
    try {
      await withPodUserns('bridge', BINARY, netnsOf(a.ns), async () => {
        throw new Error('delegate failed');
      });
    } catch (e) {
      err = e;
    }
    assert.is((err as Error).message, 'delegate failed');
    assert.is(openFdCount(), before);
  } finally {
    a.drop();
  }
});

test('another netns at the pin path: not started, the message names the path, the recorded and the found inode', async () => {
  const a = await pinnedPair();
  const b = await pinnedPair().catch((e) => {
    a.drop();
    throw e;
  });
  try {
    const netns = { ...netnsOf(b.ns), path: a.ns.netnsPin };
    await refused(netns, ErrorCode.NamespaceFailure, `runInPodUserns: delegate "bridge" not started: ${a.ns.netnsPin} is no longer the recorded netns ${b.ns.netnsInode} (holds ${a.ns.netnsInode})`);
  } finally {
    a.drop();
    b.drop();
  }
});

test('a user namespace pin at the netns path: not started, it is no netns', async () => {
  const a = await pinnedPair();
  try {
    // The record's inode is the very inode at the path, but of a user namespace.
    const netns = { ...netnsOf(a.ns), path: a.ns.usernsPin, inode: a.ns.usernsInode };
    await refused(netns, ErrorCode.NamespaceFailure, `runInPodUserns: delegate "bridge" not started: ${a.ns.usernsPin} is no longer the recorded netns ${a.ns.usernsInode} (holds ${a.ns.usernsInode})`);
  } finally {
    a.drop();
  }
});

test('the recorded netns but another owner recorded: not started, the message names both user namespaces', async () => {
  const a = await pinnedPair();
  const b = await pinnedPair().catch((e) => {
    a.drop();
    throw e;
  });
  try {
    const netns = { ...netnsOf(a.ns), usernsInode: b.ns.usernsInode };
    await refused(netns, ErrorCode.NamespaceFailure, `runInPodUserns: delegate "bridge" not started: netns ${a.ns.netnsPin} is owned by user namespace ${a.ns.usernsInode}, recorded ${b.ns.usernsInode}`);
  } finally {
    a.drop();
    b.drop();
  }
});

test("a netns owned by the host's user namespace, even if so recorded: not started as if it were a pod's", async () => {
  const path = '/proc/self/ns/net';
  const host = hostUsernsInode();
  const netns: DelegateNetns = { path, inode: fs.statSync(path).ino, usernsInode: host, hostOwned: false, mappings: ONE };
  await refused(netns, ErrorCode.NamespaceFailure, `runInPodUserns: delegate "bridge" not started: netns ${path} is owned by user namespace ${host}, recorded ${host}`);
});

test('the pin gone from the path: not started, the message names the path', async () => {
  const a = await pinnedPair();
  a.drop();
  await refused(netnsOf(a.ns), ErrorCode.NamespaceFailure, `runInPodUserns: delegate "bridge" not started: ${a.ns.netnsPin} is not a namespace file (pin gone?)`);
});

test('no pod user namespace recorded (host-owned, or no owner inode): code 7 naming the key, the delegate and CNI_NETNS', async () => {
  const a = await pinnedPair();
  try {
    const msg = `runInPodUserns: delegate "bridge" cannot run in the pod's user namespace: CNI_NETNS "${a.ns.netnsPin}" is owned by the host's user namespace (there is no pod user namespace)`;
    await refused({ ...netnsOf(a.ns), hostOwned: true }, ErrorCode.InvalidNetworkConfig, msg);
    await refused({ ...netnsOf(a.ns), usernsInode: undefined }, ErrorCode.InvalidNetworkConfig, msg);
  } finally {
    a.drop();
  }
});

test("maps without a container id 0, or a binary the pod's root cannot run: code 7 naming the delegate and why", async () => {
  const a = await pinnedPair();
  const dir = fs.mkdtempSync('/run/uxt-pod-userns-');
  try {
    const noRootUid = { uidMappings: [{ containerID: 1, hostID: 100001, size: 65535 }], gidMappings: ONE.gidMappings };
    const noRootGid = { uidMappings: ONE.uidMappings, gidMappings: [{ containerID: 1, hostID: 100001, size: 65535 }] };
    const pre = `runInPodUserns: delegate "bridge" cannot run in the pod's user namespace:`;
    await refused({ ...netnsOf(a.ns), mappings: noRootUid }, ErrorCode.InvalidNetworkConfig, `${pre} its uid map has no container id 0`);
    await refused({ ...netnsOf(a.ns), mappings: noRootGid }, ErrorCode.InvalidNetworkConfig, `${pre} its gid map has no container id 0`);
    // No gid map recorded: the uid map stands for both (it has a container id 0).
    let launched = false;
    await withPodUserns('bridge', BINARY, { ...netnsOf(a.ns), mappings: { uidMappings: ONE.uidMappings } }, async () => {
      launched = true;
    });
    assert.ok(launched, 'the uid map stands in for a missing gid map');
    const binary = `${dir}/root-only`;
    fs.writeFileSync(binary, '#!/bin/sh\n', { mode: 0o700 });
    fs.chmodSync(dir, 0o755);
    await refused(netnsOf(a.ns), ErrorCode.InvalidNetworkConfig, `${pre} the pod's root (host uid 100000, gid 100000) cannot run ${binary}: ${binary} (owner 0:0, mode 0700) is not executable by it`, binary);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    a.drop();
  }
});

test('no maps recorded (an ADD killed before it recorded them): the pre-check is skipped and the delegate started, so its DEL still runs', async () => {
  const a = await pinnedPair();
  try {
    const before = openFdCount();
    let launched = false;
    await withPodUserns('bridge', BINARY, { ...netnsOf(a.ns), mappings: undefined }, async () => {
      launched = true;
    });
    assert.ok(launched);
    assert.is(openFdCount(), before);
  } finally {
    a.drop();
  }
});

test('ADD on a host-owned netns: the first delegate marked runInPodUserns is refused with code 7 naming its index, type and CNI_NETNS; unmarked ones pass', () => {
  const path = '/run/netns/somewhere';
  refuseMarkedDelegatesOnHostOwned([], path);
  refuseMarkedDelegatesOnHostOwned([{ type: 'bridge' }, { type: 'portmap', runInPodUserns: false }], path);
  for (const [i, delegates] of [
    [
      0,
      [
        { type: 'firewall', runInPodUserns: true },
        { type: 'portmap', runInPodUserns: true },
      ],
    ],
    [2, [{ type: 'bridge' }, { type: 'tuning', runInPodUserns: false }, { type: 'firewall', runInPodUserns: true }]],
  ] as const) {
    let err: unknown;
    try {
      refuseMarkedDelegatesOnHostOwned(delegates, path);
    } catch (e) {
      err = e;
    }
    assert.instance(err, CniError);
    assert.is((err as CniError).code, ErrorCode.InvalidNetworkConfig);
    assert.is((err as CniError).message, `delegates[${i}].runInPodUserns: delegate "firewall" cannot run in the pod's user namespace: CNI_NETNS "${path}" is owned by the host's user namespace (there is no pod user namespace)`);
  }
});

test.run();
