// Real-kernel fixture for end-to-end tests of the built plugin: a uniquely named network
// (bridge, 10.x.y.0/24 subnet, host-local dir, our data dir, netns pin name) per test, and a
// cleanup that removes everything the test may have left - by name, never anything else -
// and puts ip_forward back as found (bridge's isGateway turns it on).
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_BIN, runPlugin, type PluginRun } from './plugin';
import { tempDir } from './temp';
import { RUN_TAG, uniqueName } from './unique';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

export function sh(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], input: opts.input });
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr || e.message}`);
  }
}

/** A 10.x.y.0/24 (as "10.x.y") that no address or route in this network namespace touches. */
export function freeSubnet24(): string {
  const used = sh('ip', ['-o', '-4', 'addr', 'show']) + sh('ip', ['-4', 'route', 'show', 'table', 'all']);
  for (;;) {
    const s = `10.${randomInt(160, 250)}.${randomInt(1, 250)}`;
    // At the start of a word: "10.16.5." must not count as used because of "110.16.5.1".
    if (!new RegExp(`(^|[\\s/])${s.replaceAll('.', '\\.')}\\.`, 'm').test(used)) return s;
  }
}

let hostIdSeq = 0;

export interface TestNet {
  name: string;
  bridge: string;
  subnet24: string;
  dir: string;
  dataDir: string;
  ipamDir: string;
  hostID: number;
  /** A fresh container id and netns pin per call of `attachment()`. */
  attachment(): { containerId: string; pinName: string; netnsPin: string; usernsPin: string };
  conf(cniVersion?: string, extra?: Record<string, unknown>, delegates?: unknown[]): Record<string, unknown>;
  bridgeDelegate(extra?: Record<string, unknown>): Record<string, unknown>;
  run(command: string, a: { containerId: string; netnsPin?: string }, conf: Record<string, unknown>, env?: Record<string, string | undefined>): PluginRun;
  /** Host-local reservations (IP files) currently held in this network. */
  reservations(): string[];
  vethsOnBridge(): string[];
  cleanup(): void;
}

export function newTestNet(prefix = 'ux'): TestNet {
  const forward = readFileSync(IP_FORWARD, 'utf8');
  const dir = tempDir('e2e');
  const name = uniqueName(`${prefix}n`);
  const pins: string[] = [];
  const hostID = 1_500_000_000 + (process.pid % 1000) * 65536 * 4 + (hostIdSeq++ % 4) * 65536;
  const net: TestNet = {
    name,
    bridge: uniqueName(`${prefix}b`),
    subnet24: freeSubnet24(),
    dir,
    dataDir: join(dir, 'data'),
    ipamDir: join(dir, 'ipam'),
    hostID,
    attachment() {
      const pinName = uniqueName(`${prefix}p`);
      pins.push(pinName);
      return { containerId: uniqueName(`${prefix}c`), pinName, netnsPin: `/run/netns/${pinName}`, usernsPin: `/run/userns/${pinName}` };
    },
    bridgeDelegate(extra = {}) {
      return {
        type: 'bridge',
        bridge: net.bridge,
        isGateway: true,
        ipMasq: false, // no iptables rules on the host
        ipam: { type: 'host-local', dataDir: net.ipamDir, ranges: [[{ subnet: `${net.subnet24}.0/24` }]], routes: [{ dst: '0.0.0.0/0' }] },
        ...extra,
      };
    },
    conf(cniVersion = '1.0.0', extra = {}, delegates) {
      return {
        cniVersion,
        name: net.name,
        type: 'userns-netns',
        dataDir: net.dataDir,
        idMappings: { uidMappings: [{ containerID: 0, hostID, size: 65536 }] },
        delegates: delegates ?? [net.bridgeDelegate()],
        ...extra,
      };
    },
    run(command, a, conf, env = {}) {
      return runPlugin({ CNI_COMMAND: command, CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netnsPin, CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN, ...env }, conf);
    },
    reservations() {
      const d = join(net.ipamDir, net.name);
      return existsSync(d) ? readdirSync(d).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
    },
    vethsOnBridge() {
      return sh('ip', ['-o', 'link', 'show', 'master', net.bridge], { allowFail: true }).split('\n').filter(Boolean);
    },
    cleanup() {
      for (const p of pins) removePinLeftovers(p);
      sh('ip', ['link', 'del', net.bridge], { allowFail: true });
      rmSync(dir, { recursive: true, force: true });
      if (readFileSync(IP_FORWARD, 'utf8') !== forward) writeFileSync(IP_FORWARD, forward);
    },
  };
  return net;
}

/** Something (even a dangling symlink) is at `path`: existsSync would follow it and say no. */
export function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes whatever a test may have left under one pin name in /run/netns and /run/userns: the
 * pin (mounted or not, or a symlink planted there), and the temporary reservation names
 * (`.NAME.TOKEN.pin`) an ADD killed mid-way leaves. Only names this test made.
 */
export function removePinLeftovers(name: string): void {
  for (const dir of ['/run/netns', '/run/userns']) {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      /* no such dir */
    }
    for (const e of entries) {
      if (e !== name && !(e.startsWith(`.${name}.`) && e.endsWith('.pin'))) continue;
      const path = join(dir, e);
      if (!lstatSync(path).isSymbolicLink()) sh('umount', ['-l', path], { allowFail: true });
      rmSync(path, { force: true });
    }
  }
}

/** Runs `fn` with a fresh network and always cleans up. */
export async function withNet(fn: (net: TestNet) => Promise<void> | void, prefix?: string): Promise<void> {
  const net = newTestNet(prefix);
  try {
    await fn(net);
  } finally {
    net.cleanup();
  }
}

/**
 * What a leak would show: nsfs mounts and pins named by this test process (other test
 * processes may run beside us), and orphaned helper processes.
 */
export function hostState(): { nsfs: string[]; netnsPins: string[]; usernsPins: string[]; helpers: string[] } {
  const ours = (n: string) => n.includes(RUN_TAG);
  const list = (d: string) => (existsSync(d) ? readdirSync(d).filter(ours).sort() : []);
  return {
    nsfs: sh('findmnt', ['-rn', '-t', 'nsfs', '-o', 'TARGET'], { allowFail: true })
      .split('\n')
      .filter((l) => l && !l.startsWith('/proc') && ours(l))
      .sort(),
    netnsPins: list('/run/netns'),
    usernsPins: list('/run/userns'),
    // Our namespace helpers are children of the plugin; orphans would be reparented to 1.
    helpers: sh('ps', ['-eo', 'pid=,ppid=,args='], { allowFail: true })
      .split('\n')
      .filter((l) => /^\s*\d+\s+1\s+(sleep|unshare|nsenter)\b/.test(l)),
  };
}

export function isNsfsMount(path: string): boolean {
  return sh('findmnt', ['-rn', '-t', 'nsfs', '-o', 'TARGET', path], { allowFail: true }).trim() === path;
}

export function fileMode(path: string): number {
  return lstatSync(path).mode & 0o777;
}
