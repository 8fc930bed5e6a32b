// podman 4.3 with its CNI backend (rootful, private config, storage and mount namespace, a local
// busybox image) makes the netns itself - owned by the host user namespace for a plain run, by
// the container's user namespace with --uidmap - and calls us with it: adopt mode. stop/rm
// reach our DEL, which must leave nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { withNet, type TestNet } from '../helpers/host';
import { uniqueName } from '../helpers/unique';
import { busyboxMissing } from './helpers/busybox';
import { importBusybox, podmanMissing, startPodman, type Podman } from './helpers/podman';

const missing = podmanMissing() ?? busyboxMissing();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withPodman(fn: (p: Podman, work: string, net: TestNet) => Promise<void>): Promise<void> {
  await withNet(async (net) => {
    const work = mkdtempSync(join(tmpdir(), 'uxn-podman-'));
    chmodSync(work, 0o711);
    let p: Podman | undefined;
    try {
      p = await startPodman(work);
      await fn(p, work, net);
    } finally {
      await p?.stop();
      rmSync(work, { recursive: true, force: true });
    }
  });
}

/** Writes the network for podman; returns our entry as libcni hands it to us. */
function conflist(net: TestNet, p: Podman, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { cniVersion: _v, name: _n, idMappings: _m, ...plugin } = net.conf('1.0.0', { netnsPinDirs: [], ...extra });
  writeFileSync(join(p.netDir, `${net.name}.conflist`), JSON.stringify({ cniVersion: '1.0.0', name: net.name, plugins: [plugin] }));
  return { cniVersion: '1.0.0', name: net.name, ...plugin };
}

const records = (net: TestNet) => {
  try {
    return readdirSync(join(net.dataDir, 'records'));
  } catch {
    return [];
  }
};

for (const variant of ['plain', 'uidmap'] as const) {
  test(`podman run (${variant}): adopt mode, the container has the IP, stop/rm reach DEL and leave nothing`, async () => {
    if (missing) {
      console.log(`SKIP podman test: ${missing}`);
      return;
    }
    await withPodman(async (p, work, net) => {
      const ref = `localhost/uxbusybox:${uniqueName('t')}`;
      importBusybox(p, work, ref);
      const conf = conflist(net, p);
      const name = uniqueName('uxm');
      const map = variant === 'uidmap' ? ['--uidmap', `0:${net.hostID}:65536`, '--gidmap', `0:${net.hostID}:65536`] : [];
      const run = p.podman(['run', '-d', '--name', name, '--network', net.name, ...map, ref, 'sleep', '600']);
      assert.is(run.status, 0, run.stderr);

      const addr = p.podman(['exec', name, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
      assert.is(addr.status, 0, addr.stderr);
      assert.match(addr.stdout, `inet ${net.subnet24}.`);
      assert.is(net.reservations().length, 1);

      const list = p.inNs(['/bin/sh', '-c', `exec "$(ls ${work}/cni-bin/userns-netns)" list --json --data-dir ${net.dataDir}`]);
      assert.is(list.status, 0, list.stderr);
      const row = JSON.parse(list.stdout).attachments[0];
      assert.is(row.mode, 'adopt');
      assert.match(row.netns, /^\/run\/netns\/netns-/);
      if (variant === 'uidmap') {
        const uidMap = p.podman(['exec', name, 'cat', '/proc/self/uid_map']).stdout.trim().split(/\s+/).map(Number);
        assert.equal(uidMap, [0, net.hostID, 65536], 'podman made the user namespace with our mapping');
        // The owner of podman's netns, pinned by us beside it, with podman's maps.
        const mapping = [{ containerID: 0, hostID: net.hostID, size: 65536 }];
        const usernsPin = `/run/userns/${basename(row.netns)}`;
        assert.equal([row.userns, row.uidMappings, row.gidMappings, row.live], [usernsPin, mapping, mapping, true]);
        const oci = p.inNs(['/bin/sh', '-c', `exec "$(ls ${work}/cni-bin/userns-netns)" oci ${row.containerId} --data-dir ${net.dataDir}`]);
        assert.is(oci.status, 0, oci.stderr);
        const frag = JSON.parse(oci.stdout);
        assert.equal(frag.linux.namespaces, [
          { type: 'user', path: usernsPin },
          { type: 'network', path: row.netns },
        ]);
        assert.equal([frag.linux.uidMappings, frag.linux.gidMappings], [mapping, mapping], 'the same mappings podman used');
        const inode = /^user:\[(\d+)\]$/.exec(p.podman(['exec', name, 'busybox', 'readlink', '/proc/self/ns/user']).stdout.trim())?.[1];
        assert.is(p.inNs(['stat', '-L', '-c', '%i', usernsPin]).stdout.trim(), inode, "the pin is the container's user namespace");
        const pgr = p.podman(['exec', name, 'cat', '/proc/sys/net/ipv4/ping_group_range']);
        assert.is(pgr.stdout.trim().split(/\s+/).join(' '), '0 65535', `ping_group_range in the pod is the mapped range (${pgr.stderr})`);
      }

      // `rm -f` races the `podman container cleanup` that conmon starts when the container
      // exits: while that cleanup still holds the container's shm mount, rm's unlinkat of it
      // answers EBUSY (seen about 1 run in 3 inside the test kit's private namespaces). What
      // an operator would do: rm again once the cleanup is done. Any other failure fails here.
      let rm = p.podman(['rm', '-f', '-t', '0', name]);
      for (let t = 0; t < 10_000 && rm.status !== 0 && /userdata\/shm: device or resource busy/.test(rm.stderr); t += 500) {
        await sleep(500);
        rm = p.podman(['rm', '-f', '-t', '0', name]);
      }
      assert.is(rm.status, 0, rm.stderr);
      // The network teardown may be left to the `podman container cleanup` that conmon runs
      // when the container exits, which can finish after rm has returned.
      for (let t = 0; t < 15_000 && (net.reservations().length > 0 || records(net).length > 0); t += 100) await sleep(100);
      if (variant === 'uidmap' && records(net).length > 0) {
        // podman 4.3 sometimes never calls DEL for a --uidmap container (in about 1 run of 3
        // here): its events show the cleanup, but no DEL reaches any plugin and our record
        // stays "ready". A runtime's later DEL (or GC) must then release it all: the DEL
        // ctr sends, with an empty CNI_NETNS, from the record alone.
        console.log('podman did not call DEL for the --uidmap container: DEL as a runtime retry');
        const del = p.inNs(['env', 'CNI_COMMAND=DEL', `CNI_CONTAINERID=${row.containerId}`, 'CNI_NETNS=', 'CNI_IFNAME=eth0', `CNI_PATH=${work}/cni-bin`, `${work}/cni-bin/userns-netns`], { input: JSON.stringify(conf) });
        assert.is(del.status, 0, del.stdout + del.stderr);
      }
      assert.equal(net.reservations(), [], 'DEL released the IP');
      assert.equal(records(net), [], 'and dropped the record');
      assert.equal(net.vethsOnBridge(), []);
      assert.equal(p.inNs(['ls', '/run/userns']).stdout.trim(), '', 'our owner pin went with DEL');
    });
  });
}

test.run();
