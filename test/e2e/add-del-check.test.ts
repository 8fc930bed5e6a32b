// ADD / CHECK / DEL through the built single file, against the real kernel and the real
// Debian bridge + host-local, for the CNI versions runtimes use.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { killedByFailpoint } from '../helpers/plugin';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspectNamespace } from '../../src/ns';
import { fileMode, hostState, isNsfsMount, sh, withNet, type TestNet } from '../helpers/host';
import { uniqueName } from '../helpers/unique';
import { failpointEnv } from '../../src/attachment/failpoints';

function recordPath(net: TestNet, containerId: string): string {
  return join(net.dataDir, 'records', `${net.name}+${containerId}+eth0.json`);
}

function eth0Addrs(pin: string): string[] {
  return sh('ip', ['-n', pin.split('/').pop()!, '-o', '-4', 'addr', 'show', 'dev', 'eth0'])
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(/\s+/)[3]!);
}

for (const version of ['0.4.0', '1.0.0', '1.1.0']) {
  test(`cniVersion ${version}: ADD creates a userns-owned netns with the delegates' IP, CHECK, DEL`, async () => {
    await withNet(async (net) => {
      const before = hostState();
      const a = net.attachment();
      const conf = net.conf(version);
      const add = net.run('ADD', a, conf);
      assert.is(add.status, 0, add.stdout + add.stderr);
      const result = add.json;
      assert.is(result.cniVersion, version);
      const ip = result.ips[0];
      if (version === '0.4.0') assert.is(ip.version, '4');
      else assert.is(ip.version, undefined);
      const eth0 = result.interfaces[ip.interface];
      assert.is(eth0.name, 'eth0');
      assert.is(eth0.sandbox, a.netnsPin);

      // Inside: exactly the result's IP on eth0, lo up, a default route.
      assert.equal(eth0Addrs(a.netnsPin), [ip.address]);
      assert.match(sh('ip', ['-n', a.pinName, 'link', 'show', 'lo']), /UP/);
      assert.match(sh('ip', ['-n', a.pinName, 'route', 'show', 'default']), new RegExp(`default via ${ip.gateway.replace(/\./g, '\\.')}`));

      // Owned by a new user namespace, pinned beside it, with exactly the configured mapping.
      const ns = inspectNamespace(a.netnsPin);
      assert.ok(isNsfsMount(a.netnsPin) && isNsfsMount(a.usernsPin));
      assert.is(ns.owner?.isHostUserns, false);
      assert.is(ns.owner?.inode, inspectNamespace(a.usernsPin).inode);
      assert.is(
        sh('nsenter', [`--user=${a.usernsPin}`, 'cat', '/proc/self/uid_map'])
          .trim()
          .split(/\s+/)
          .join(' '),
        `0 ${net.hostID} 65536`,
      );

      // host-local holds the reservation; our record is on disk, root-only.
      assert.equal(net.reservations(), [ip.address.split('/')[0]]);
      const rec = recordPath(net, a.containerId);
      assert.is(fileMode(rec), 0o600);
      assert.is(fileMode(join(net.dataDir, 'records')), 0o700);
      const stored = JSON.parse(readFileSync(rec, 'utf8'));
      assert.is(stored.phase, 'ready');
      assert.equal(stored.result, result);

      const withPrev = { ...conf, prevResult: result };
      const check = net.run('CHECK', a, withPrev);
      assert.is(check.status, 0, check.stdout);
      assert.is(check.stdout, '');

      sh('ip', ['-n', a.pinName, 'addr', 'flush', 'dev', 'eth0']);
      const bad = net.run('CHECK', a, withPrev);
      assert.is.not(bad.status, 0);
      assert.match(bad.json.msg, ip.address.split('/')[0]);
      assert.match(bad.json.details, 'bridge');

      const del = net.run('DEL', a, conf);
      assert.is(del.status, 0, del.stdout);
      assert.equal(net.vethsOnBridge(), [], 'veth removed');
      assert.equal(net.reservations(), [], 'reservation released');
      assert.not.ok(existsSync(a.netnsPin) || existsSync(a.usernsPin), 'pins removed');
      assert.not.ok(existsSync(rec), 'record removed');
      assert.equal(hostState(), before);

      const again = net.run('DEL', a, conf);
      assert.is(again.status, 0, again.stdout);
    });
  });
}

test('DEL with an empty CNI_NETNS, and after the pin was unmounted by hand, still releases everything', async () => {
  await withNet(async (net) => {
    const before = hostState();
    const conf = net.conf();
    const a = net.attachment();
    assert.is(net.run('ADD', a, conf).status, 0);
    const del = net.run('DEL', a, conf, { CNI_NETNS: '' });
    assert.is(del.status, 0, del.stdout);
    assert.equal(net.reservations(), []);
    assert.not.ok(existsSync(a.netnsPin));

    const b = net.attachment();
    assert.is(net.run('ADD', b, conf).status, 0);
    sh('umount', [b.netnsPin]); // the netns dies with its last reference: the veth goes too
    const del2 = net.run('DEL', b, conf);
    assert.is(del2.status, 0, del2.stdout);
    assert.equal(net.reservations(), []);
    assert.not.ok(existsSync(b.netnsPin) || existsSync(b.usernsPin));
    assert.not.ok(existsSync(recordPath(net, b.containerId)));
    assert.equal(hostState(), before);
  });
});

test('DEL of an attachment never added succeeds and writes nothing', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    const r = net.run('DEL', a, net.conf());
    assert.is(r.status, 0, r.stdout);
    assert.not.ok(existsSync(join(net.dataDir, 'records', `${net.name}+${a.containerId}+eth0.json`)));
  });
});

test('a second ADD of the same attachment is an error that changes nothing', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    const conf = net.conf();
    const first = net.run('ADD', a, conf);
    assert.is(first.status, 0);
    const rec = readFileSync(recordPath(net, a.containerId), 'utf8');
    const second = net.run('ADD', { ...a }, conf);
    assert.is(second.status, 1);
    assert.is(second.json.code, 105);
    assert.is(second.json.msg, `attachment "${net.name}/${a.containerId}/eth0" already exists (netns ${a.netnsPin}); DEL it first`);
    assert.is(readFileSync(recordPath(net, a.containerId), 'utf8'), rec);
    assert.is(net.reservations().length, 1);
    assert.is(net.run('DEL', a, conf).status, 0);
  });
});

test('a delegate type not found in CNI_PATH fails before anything is created', async () => {
  await withNet(async (net) => {
    const before = hostState();
    const a = net.attachment();
    const r = net.run('ADD', a, net.conf('1.0.0', {}, [net.bridgeDelegate(), { type: 'no-such-plugin' }]));
    assert.is(r.json?.code, 7, r.stdout);
    assert.match(r.json.msg, '"no-such-plugin"');
    assert.not.ok(existsSync(net.dataDir), 'no data dir, no lock, no record');
    assert.not.ok(existsSync(a.netnsPin));
    assert.equal(hostState(), before);
  });
});

test('failure injection: unknown IPAM type rolls everything back', async () => {
  await withNet(async (net) => {
    const before = hostState();
    const a = net.attachment();
    const conf = net.conf('1.0.0', {}, [net.bridgeDelegate({ ipam: { type: 'no-such-ipam' } })]);
    const r = net.run('ADD', a, conf);
    assert.is(r.status, 1);
    assert.match(r.json.msg, 'no-such-ipam');
    assert.match(r.json.details, 'bridge');
    assert.equal(net.vethsOnBridge(), []);
    assert.not.ok(existsSync(recordPath(net, a.containerId)));
    assert.equal(hostState(), before);
  });
});

test('failure injection: a failing delegate after bridge rolls back bridge and host-local', async () => {
  await withNet(async (net) => {
    const fakeDir = join(net.dir, 'fakebin');
    sh('mkdir', ['-p', fakeDir]);
    sh('cp', [join(import.meta.dirname, '..', 'delegate', 'fixtures', 'fake-delegate.sh'), join(fakeDir, 'fake')]);
    const before = hostState();
    const a = net.attachment();
    const conf = net.conf('1.0.0', {}, [net.bridgeDelegate(), { type: 'fake', fake: { mode: 'error', code: 7, msg: 'fake says no' } }]);
    const r = net.run('ADD', a, conf, { CNI_PATH: `${fakeDir}:/usr/lib/cni` });
    assert.is(r.status, 1);
    assert.is(r.json.code, 7, "the delegate's own code");
    assert.is(r.json.msg, 'fake says no');
    assert.match(r.json.details, 'fake');
    assert.equal(net.vethsOnBridge(), []);
    assert.equal(net.reservations(), []);
    assert.not.ok(existsSync(recordPath(net, a.containerId)));
    assert.equal(hostState(), before);
    // The failing delegate itself got DEL too (it may have half-run).
    assert.equal(
      readFileSync(join(fakeDir, 'calls.log'), 'utf8')
        .trim()
        .split('\n')
        .filter((c) => c !== 'VERSION'),
      ['ADD', 'DEL'],
    );
  });
});

test('CNI_NETNS at a plain file, a directory, or outside the pin directories: error, untouched', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    writeFileSync(a.netnsPin, 'not a netns');
    const conf = net.conf();
    const r = net.run('ADD', a, conf);
    assert.is(r.status, 1);
    assert.is(r.json.code, 4);
    assert.match(r.json.msg, 'regular file');
    assert.is(readFileSync(a.netnsPin, 'utf8'), 'not a netns');
    for (const bad of [join(net.dir, 'x'), `/run/netns/../../${net.dir.slice(1)}/y`, '/run/netns/sub/../z']) {
      const r2 = net.run('ADD', { ...a, netnsPin: bad }, conf);
      assert.is(r2.status, 1, bad);
      assert.is(r2.json.code, 4, `${bad}: ${r2.stdout}`);
      assert.match(r2.json.msg, 'CNI_NETNS');
    }
    assert.equal(net.reservations(), []);
    assert.not.ok(existsSync(join(net.dataDir, 'records', `${net.name}+${a.containerId}+eth0.json`)));
  });
});

test('symlinks planted at the netns or userns pin path are never followed', async () => {
  await withNet(async (net) => {
    const before = hostState();
    const conf = net.conf();
    const victim = net.attachment();
    sh('ip', ['netns', 'add', victim.pinName]);
    try {
      // CNI_NETNS is a symlink to a real netns: refused as "a symlink", target untouched.
      const a = net.attachment();
      sh('ln', ['-s', victim.netnsPin, a.netnsPin]);
      const r = net.run('ADD', a, conf);
      assert.is(r.status, 1);
      assert.match(r.json.msg, 'symlink');
      assert.ok(isNsfsMount(victim.netnsPin));
      sh('rm', [a.netnsPin]);

      // The userns pin path is a symlink: the ADD fails before pinning anything there.
      const b = net.attachment();
      sh('mkdir', ['-p', '/run/userns']);
      const target = join(net.dir, 'target');
      writeFileSync(target, 'keep');
      sh('ln', ['-s', target, b.usernsPin]);
      const r2 = net.run('ADD', b, conf);
      assert.is(r2.status, 1, r2.stdout);
      assert.is(readFileSync(target, 'utf8'), 'keep');
      assert.not.ok(existsSync(b.netnsPin));
      sh('rm', [b.usernsPin]);
      assert.equal(net.reservations(), []);
    } finally {
      sh('ip', ['netns', 'del', victim.pinName], { allowFail: true });
    }
    assert.equal(hostState(), before);
  });
});

test('a failed ADD never removes a pin it did not make (two pin dirs sharing one userns pin dir)', async () => {
  await withNet(async (net) => {
    const dirA = join(net.dir, 'netA');
    const dirB = join(net.dir, 'netB');
    const usernsDir = join(net.dir, 'userns');
    const conf = net.conf('1.0.0', { netnsPinDirs: [dirA, dirB], usernsPinDir: usernsDir });
    const name = uniqueName('uxq');
    const first = { containerId: uniqueName('c'), netnsPin: join(dirA, name) };
    const second = { containerId: uniqueName('c'), netnsPin: join(dirB, name) };
    try {
      const add = net.run('ADD', first, conf);
      assert.is(add.status, 0, add.stdout);
      const r = net.run('ADD', second, conf);
      assert.is(r.json?.code, 101, r.stdout);
      assert.match(r.json.msg, join(usernsDir, name));
      assert.is(net.run('CHECK', first, { ...conf, prevResult: add.json }).status, 0, 'the first attachment keeps its pins');
      assert.is(net.run('DEL', first, conf).status, 0);
      assert.not.ok(existsSync(first.netnsPin) || existsSync(join(usernsDir, name)));
    } finally {
      for (const d of [dirA, dirB, usernsDir]) sh('umount', ['-R', '-l', d], { allowFail: true });
    }
  });
});

test('DEL of an ADD killed before pinning leaves a netns someone else created at that path since', async () => {
  await withNet(async (net) => {
    const conf = net.conf();
    const a = net.attachment();
    const killed = net.run('ADD', a, conf, failpointEnv('add-after-intent', 'kill'));
    assert.ok(killedByFailpoint(killed), killed.stdout);
    sh('ip', ['netns', 'add', a.pinName]); // another tool reuses the name
    try {
      const inode = inspectNamespace(a.netnsPin).inode;
      assert.is(net.run('DEL', a, conf).status, 0);
      assert.is(inspectNamespace(a.netnsPin).inode, inode, 'not ours: left in place');
    } finally {
      sh('ip', ['netns', 'del', a.pinName], { allowFail: true });
    }
  });
});

test('CNI_NETNS through a symlinked pin directory: ADD, CHECK and DEL all work', async () => {
  await withNet(async (net) => {
    const real = join(net.dir, 'pins-real');
    const link = join(net.dir, 'pins-link');
    sh('mkdir', ['-p', real]);
    sh('ln', ['-s', real, link]);
    const conf = net.conf('1.0.0', { netnsPinDirs: [link], usernsPinDir: join(net.dir, 'userns') });
    const a = { containerId: uniqueName('c'), netnsPin: join(link, uniqueName('uxs')) };
    try {
      const add = net.run('ADD', a, conf);
      assert.is(add.status, 0, add.stdout);
      assert.is(add.json.interfaces.find((i: any) => i.sandbox).sandbox, a.netnsPin, "the runtime's path in the result");
      const check = net.run('CHECK', a, { ...conf, prevResult: add.json });
      assert.is(check.status, 0, check.stdout);
      assert.is(net.run('DEL', a, conf).status, 0);
      assert.equal(readdirSync(real), []);
    } finally {
      for (const d of [real, join(net.dir, 'userns')]) sh('umount', ['-R', '-l', d], { allowFail: true });
    }
  });
});

test('adopt mode: a netns from ip netns add is used as is and left in place by DEL', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    sh('ip', ['netns', 'add', a.pinName]);
    const inode = inspectNamespace(a.netnsPin).inode;
    const conf = net.conf();
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    assert.equal(eth0Addrs(a.netnsPin), [add.json.ips[0].address]);
    const rec = JSON.parse(readFileSync(recordPath(net, a.containerId), 'utf8'));
    assert.is(rec.mode, 'adopt');
    assert.is(rec.userns.hostOwned, true);
    assert.not.ok(existsSync(a.usernsPin), 'no userns pin in adopt mode');
    assert.is(net.run('CHECK', a, { ...conf, prevResult: add.json }).status, 0);
    assert.is(net.run('DEL', a, conf).status, 0);
    assert.is(inspectNamespace(a.netnsPin).inode, inode, 'the netns is still there');
    assert.equal(net.reservations(), []);
    sh('ip', ['netns', 'del', a.pinName]);
  });
});

test('existingNetns "adopt-userns-owned" refuses a host-owned netns', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    sh('ip', ['netns', 'add', a.pinName]);
    try {
      const r = net.run('ADD', a, net.conf('1.0.0', { existingNetns: 'adopt-userns-owned' }));
      assert.is(r.status, 1);
      assert.match(r.json.msg, 'host user namespace');
      assert.equal(net.reservations(), []);
    } finally {
      sh('ip', ['netns', 'del', a.pinName]);
    }
  });
});

test.run();
