// Real-kernel fixtures for the delegate tests: a uniquely named netns, bridge, subnet and
// host-local dir per case, all removed afterwards, and ip_forward put back as found
// (bridge with isGateway turns it on).
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from './kit';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
let seq = 0;

export interface HostFixture {
  netnsName: string;
  netnsPath: string;
  bridge: string;
  network: string;
  /** "10.a.b" - the /24 is `${subnet24}.0/24`. */
  subnet24: string;
  dir: string;
  dataDir: string;
  cacheDir: string;
  containerId: string;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function ipQuiet(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    /* already gone */
  }
}

/** A 10.x.y.0/24 that no address or route on this host touches. */
function freeSubnet(): string {
  const used = ip('-o', '-4', 'addr', 'show') + ip('-4', 'route', 'show', 'table', 'all');
  for (;;) {
    const s = `10.${randomInt(160, 250)}.${randomInt(1, 250)}`;
    if (!used.includes(` ${s}.`) && !used.includes(`\n${s}.`) && !used.startsWith(`${s}.`)) return s;
  }
}

export async function withHost(fn: (h: HostFixture) => Promise<void>): Promise<void> {
  const n = seq++;
  const forward = readFileSync(IP_FORWARD, 'utf8');
  const dir = tempDir('real');
  const h: HostFixture = {
    netnsName: `uxd-${process.pid}-${n}`,
    netnsPath: `/run/netns/uxd-${process.pid}-${n}`,
    bridge: `uxb${process.pid}x${n}`.slice(0, 15),
    network: `uxd-net-${process.pid}-${n}`,
    subnet24: freeSubnet(),
    dir,
    dataDir: join(dir, 'host-local'),
    cacheDir: join(dir, 'cache'),
    containerId: `uxd-ctr-${process.pid}-${n}`,
  };
  ip('netns', 'add', h.netnsName);
  try {
    await fn(h);
  } finally {
    ipQuiet('netns', 'del', h.netnsName); // takes the container end, and so the veth pair
    ipQuiet('link', 'del', h.bridge);
    removeDir(dir);
    if (readFileSync(IP_FORWARD, 'utf8') !== forward) writeFileSync(IP_FORWARD, forward);
  }
}

export function bridgeConf(h: HostFixture, ipamType = 'host-local'): Record<string, unknown> {
  return {
    type: 'bridge',
    bridge: h.bridge,
    isGateway: true,
    ipMasq: false, // no iptables rules on the host
    ipam: {
      type: ipamType,
      subnet: `${h.subnet24}.0/24`,
      dataDir: h.dataDir,
      routes: [{ dst: '0.0.0.0/0' }],
    },
  };
}

/** IPv4 addresses (CIDR) on `ifname` inside the netns; [] when the link does not exist. */
export function addrsInNetns(h: HostFixture, ifname: string): string[] {
  try {
    const doc = JSON.parse(ip('-n', h.netnsName, '-j', '-4', 'addr', 'show', 'dev', ifname)) as {
      addr_info: { local: string; prefixlen: number }[];
    }[];
    return doc.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
  } catch {
    return [];
  }
}

export function linksOnBridge(h: HostFixture): string[] {
  try {
    return (JSON.parse(ip('-j', 'link', 'show', 'master', h.bridge)) as { ifname: string }[]).map((l) => l.ifname);
  } catch {
    return [];
  }
}
