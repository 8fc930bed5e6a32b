// containerd end to end: a private containerd (CRI off), `ctr run --cni` with our plugin as
// the network's only plugin. ctr hands us /proc/<pid>/ns/net (adopt mode); when the task
// exits it sends DEL with CNI_NETNS="" - that DEL must release the IP and drop the record.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh, withNet } from '../helpers/host';
import { uniqueName } from '../helpers/unique';
import { op, opJson } from '../cli/helpers/run-operator';
import { busyboxMissing } from './helpers/busybox';
import { mountsUnder, startContainerd, type Containerd } from './helpers/containerd';
import { buildBusyboxImage } from './helpers/image';
import { privateCni } from './helpers/private-cni';

const has = (b: string) => sh('sh', ['-c', `command -v ${b}`], { allowFail: true }) !== '';
const missing = !has('containerd') || !has('ctr') ? 'containerd/ctr not installed (apt-get install containerd)' : !has('runc') ? 'runc not installed' : busyboxMissing();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, ms: number, fn: () => T | undefined): Promise<T> {
  for (let t = 0; t < ms; t += 100) {
    const v = fn();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("ctr run --cni: adopt mode gives the container its IP; ctr's DEL with empty CNI_NETNS cleans up", async () => {
  if (missing) {
    console.log(`SKIP containerd test: ${missing}`);
    return;
  }
  await withNet(async (net) => {
    const work = mkdtempSync(join(tmpdir(), 'uxn-ctrd-'));
    chmodSync(work, 0o711);
    let cd: Containerd | undefined;
    let ctrRun: ReturnType<typeof spawn> | undefined;
    const id = uniqueName('uxk');
    try {
      const ref = `docker.io/library/uxbusybox:${id}`;
      const tar = buildBusyboxImage(join(work, 'image'), ref);
      cd = await startContainerd(join(work, 'cd'));
      cd.ctr(['image', 'import', tar]);
      assert.match(cd.ctr(['image', 'ls', '-q']), ref);

      const { cniVersion: _v, name: _n, idMappings: _m, ...plugin } = net.conf('1.0.0', { netnsPinDirs: [], existingNetns: 'adopt' });
      const cni = privateCni(work, { cniVersion: '1.0.0', name: net.name, plugins: [plugin] });
      const gate = join(work, 'gate');
      mkdirSync(gate);
      const script = 'ip -o -4 addr show dev eth0; i=0; while [ ! -e /x/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done';
      // FIFOs and runc state in our dirs, not under /run/containerd.
      const argv = cni.wrap([
        'ctr',
        '--address',
        cd.sock,
        'run',
        '--rm',
        '--cni',
        '--fifo-dir',
        join(work, 'fifo'),
        '--runc-root',
        join(work, 'runc'),
        '--mount',
        `type=bind,src=${gate},dst=/x,options=rbind:ro`,
        ref,
        id,
        'sh',
        '-c',
        script,
      ]);
      const run = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      ctrRun = run;
      let out = '';
      run.stdout!.on('data', (d) => {
        out += d;
      });
      run.stderr!.on('data', (d) => {
        out += d;
      });
      const exited = new Promise<number | null>((r) => run.on('exit', (code) => r(code)));

      const dd = ['--data-dir', net.dataDir];
      const row = await until('the attachment record', 30_000, () => {
        if (run.exitCode !== null) throw new Error(`ctr exited early (${run.exitCode}): ${out}`);
        const l = opJson(['list', '--json', ...dd]);
        return l.attachments.find((a: { phase: string }) => a.phase === 'ready');
      });
      assert.is(row.mode, 'adopt');
      assert.is(row.containerId, `default-${id}`, 'ctr names the attachment <namespace>-<id>');
      assert.match(row.netns, /^\/proc\/\d+\/ns\/net$/);
      assert.is(row.userns, '');
      const ip = row.ips[0] as string;
      assert.equal(net.reservations(), [ip.split('/')[0]]);
      await until('the container output', 30_000, () => (out.includes('inet ') ? true : undefined));
      assert.match(out, new RegExp(`eth0\\s+inet ${ip.replace(/\./g, '\\.')} `), out);

      const ins = opJson(['inspect', row.containerId, '--json', ...dd]).attachments[0];
      assert.is(ins.check.live, true, JSON.stringify(ins.check.problems));
      assert.is(ins.record.userns.hostOwned, true);
      // ctr's container has no user namespace: oci can only offer the network entry.
      const frag = op(['oci', row.containerId, ...dd]);
      assert.is(frag.status, 0, frag.stderr);
      assert.equal(JSON.parse(frag.stdout).linux, { namespaces: [{ type: 'network', path: row.netns }] });
      assert.match(frag.stderr, /owned by the host user namespace/);

      writeFileSync(join(gate, 'go'), '');
      let timer: NodeJS.Timeout | undefined;
      const status = await Promise.race([
        exited,
        new Promise<string>((r) => {
          timer = setTimeout(() => r('timeout'), 30_000);
        }),
      ]);
      clearTimeout(timer);
      assert.is(status, 0, `ctr run: ${status}: ${out}`);
      assert.equal(opJson(['list', '--json', ...dd]).attachments, [], 'record removed by the DEL');
      assert.equal(net.reservations(), [], 'reservation released');
      assert.equal(net.vethsOnBridge(), [], 'veth gone');
      assert.not.ok(existsSync(`/var/lib/cni/results/${net.name}-default-${id}-eth0`), 'libcni cache entry removed');
    } finally {
      if (ctrRun && ctrRun.exitCode === null && ctrRun.pid) ctrRun.kill('SIGKILL');
      if (cd) {
        cd.ctr(['task', 'kill', '-s', 'SIGKILL', id], { allowFail: true });
        cd.ctr(['task', 'delete', '--force', id], { allowFail: true });
        cd.ctr(['container', 'delete', id], { allowFail: true });
        await cd.stop();
      }
      const left = mountsUnder(work);
      if (left.length === 0) rmSync(work, { recursive: true, force: true });
      else console.error(`left ${work} in place: still mounted: ${left.join(' ')}`);
    }
  }, 'uxd');
});

test.run();
