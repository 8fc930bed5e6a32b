// runc end to end: a container joins the user namespace + netns made by the plugin (through
// the `oci` fragment), keeps the default /sys sysfs mount, has eth0 with the ADD result's IP
// and reaches the gateway. Control: the same bundle with a host-owned netns (`ip netns add`)
// and a new user namespace fails on the sysfs mount - the kernel rule the plugin exists for.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh, withNet } from '../helpers/host';
import { uniqueName } from '../helpers/unique';
import { op, opJson } from '../cli/helpers/run-operator';
import { busyboxMissing } from './helpers/busybox';
import { makeBundle, runcDelete, runcRun, type LinuxFragment } from './helpers/runc';
import { makeRuntimeNetns, removeRuntimeNetns } from '../helpers/runtime-netns';

const missing = sh('sh', ['-c', 'command -v runc'], { allowFail: true }) === '' ? 'runc not installed (apt-get install runc)' : busyboxMissing();

function script(gateway: string): string {
  return `ip addr; ping -c1 -W5 ${gateway}; echo "ping-status=$?"; grep ' /sys ' /proc/mounts; ls /sys/class/net`;
}

test("runc joins the plugin's userns+netns: /sys mounted, eth0 has the ADD IP, gateway answers; host-owned netns fails", async () => {
  if (missing) {
    console.log(`SKIP runc test: ${missing}`);
    return;
  }
  await withNet(async (net) => {
    const work = mkdtempSync(join(tmpdir(), 'uxn-runc-'));
    chmodSync(work, 0o711); // the container's root (an unprivileged host uid) must traverse it
    const state = join(work, 'state');
    const ids: string[] = [];
    const hostNetns = uniqueName('uxh');
    try {
      const a = net.attachment();
      const add = net.run('ADD', a, net.conf('1.0.0'));
      assert.is(add.status, 0, add.stdout + add.stderr);
      const ip = add.json.ips[0];
      const frag: { linux: LinuxFragment } = opJson(['oci', a.containerId, '--data-dir', net.dataDir]);

      const id = uniqueName('uxr');
      ids.push(id);
      const ok = runcRun(state, makeBundle(join(work, 'ours'), script(ip.gateway), frag.linux), id);
      assert.is(ok.status, 0, `runc failed: ${ok.stderr}\n${ok.stdout}`);
      assert.match(ok.stdout, new RegExp(`inet ${ip.address.replace(/\./g, '\\.')} .*eth0`));
      assert.match(ok.stdout, /1 packets received/);
      assert.match(ok.stdout, /ping-status=0/);
      assert.match(ok.stdout, /^sysfs \/sys sysfs /m);
      assert.match(ok.stdout, /^eth0$/m);

      // Control: same bundle and mappings, but the netns belongs to the host user namespace.
      sh('ip', ['netns', 'add', hostNetns]);
      const control: LinuxFragment = {
        namespaces: [{ type: 'user' }, { type: 'network', path: `/run/netns/${hostNetns}` }],
        uidMappings: frag.linux.uidMappings,
        gidMappings: frag.linux.gidMappings,
      };
      const cid = uniqueName('uxr');
      ids.push(cid);
      const bad = runcRun(state, makeBundle(join(work, 'control'), script(ip.gateway), control), cid);
      assert.is.not(bad.status, 0, `control unexpectedly started: ${bad.stdout}`);
      assert.match(bad.stderr, /sysfs.*operation not permitted/i, bad.stderr);

      // The operator tools on the same attachment: exec shows the IP from inside, and a fresh
      // inspect (nothing in memory: a new process reading files and the kernel) gives it back.
      const ex = op(['exec', a.netnsPin, '--', 'ip', '-o', 'addr']);
      assert.is(ex.status, 0, ex.stderr);
      assert.match(ex.stdout, new RegExp(`eth0\\s+inet ${ip.address.replace(/\./g, '\\.')} `));
      const ins = opJson(['inspect', a.containerId, '--json', '--data-dir', net.dataDir]).attachments[0];
      assert.equal(
        ins.record.result.ips.map((i: { address: string }) => i.address),
        [ip.address],
      );
      assert.is(ins.check.live, true);

      const del = net.run('DEL', a, net.conf('1.0.0'));
      assert.is(del.status, 0, del.stdout);
    } finally {
      for (const id of ids) runcDelete(state, id);
      sh('ip', ['netns', 'del', hostNetns], { allowFail: true });
      rmSync(work, { recursive: true, force: true });
    }
  });
});

test('runc joins an adopted userns-owned netns (made like containerd 2.x) through the oci fragment as is: /sys mounted, eth0 has the IP', async () => {
  if (missing) {
    console.log(`SKIP runc test: ${missing}`);
    return;
  }
  await withNet(async (net) => {
    const work = mkdtempSync(join(tmpdir(), 'uxn-runc-'));
    chmodSync(work, 0o711);
    const state = join(work, 'state');
    const id = uniqueName('uxr');
    const a = net.attachment();
    try {
      await makeRuntimeNetns(a.netnsPin, { containerID: 0, hostID: net.hostID, size: 65536 });
      const conf = net.conf('1.0.0', { netnsPinDirs: [] });
      const add = net.run('ADD', a, conf);
      assert.is(add.status, 0, add.stdout + add.stderr);
      const ip = add.json.ips[0];
      const frag: { linux: LinuxFragment } = opJson(['oci', a.containerId, '--data-dir', net.dataDir]);
      const ok = runcRun(state, makeBundle(join(work, 'adopted'), script(ip.gateway), frag.linux), id);
      assert.is(ok.status, 0, `runc failed: ${ok.stderr}\n${ok.stdout}`);
      assert.match(ok.stdout, new RegExp(`inet ${ip.address.replace(/\./g, '\\.')} .*eth0`));
      assert.match(ok.stdout, /ping-status=0/);
      assert.match(ok.stdout, /^sysfs \/sys sysfs /m);
      assert.is(net.run('DEL', a, conf).status, 0);
    } finally {
      runcDelete(state, id);
      removeRuntimeNetns(a.netnsPin);
      rmSync(work, { recursive: true, force: true });
    }
  });
});

test.run();
