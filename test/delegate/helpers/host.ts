// Real-kernel fixture for the delegate tests: the common test network (test/helpers/host.ts:
// unique bridge, free subnet, temp dir, cleanup that puts ip_forward back) plus a netns made
// by `ip netns add` for the delegates to run in, removed afterwards (it takes the veths along).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { withNet } from '../../helpers/host';
import { uniqueName } from '../../helpers/unique';

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

export async function withHost(fn: (h: HostFixture) => Promise<void>): Promise<void> {
  await withNet(async (net) => {
    const netnsName = uniqueName('uxd');
    const h: HostFixture = {
      netnsName,
      netnsPath: `/run/netns/${netnsName}`,
      bridge: net.bridge,
      network: net.name,
      subnet24: net.subnet24,
      dir: net.dir,
      dataDir: net.ipamDir,
      cacheDir: join(net.dir, 'cache'),
      containerId: uniqueName('uxdc'),
    };
    ip('netns', 'add', netnsName);
    try {
      await fn(h);
    } finally {
      ipQuiet('netns', 'del', netnsName); // takes the container end, and so the veth pair
    }
  }, 'uxd');
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
