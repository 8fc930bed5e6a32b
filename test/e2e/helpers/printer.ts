// The printing delegate (fixtures/printing-delegate.sh) installed next to the real plugins, and
// what the delegate-output tests need around it: chains that put it before, between and after
// bridge + host-local, the document it prints next, and a cheap check that nothing is left.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_BIN } from '../../helpers/plugin';
import { hostState, type TestNet } from '../../helpers/host';

export const PRINTER_SCRIPT = join(import.meta.dirname, '..', 'fixtures', 'printing-delegate.sh');

/** Where the positions in the chain are. `old-*`: with a delegate that speaks at most 0.4.0. */
export const LAYOUTS = ['before', 'between', 'after', 'old-after', 'old-before'] as const;
export type Layout = (typeof LAYOUTS)[number];

/** What the printer prints on its next ADD: bytes as they are, or a jq filter over its config. */
export interface PrintSpec {
  label: string;
  out?: string;
  jq?: string;
  exit?: number;
}

export interface PrinterKit {
  cniPath: string;
  /** Makes the printer print `spec` on its next ADD. */
  arm(spec: PrintSpec): void;
  conf(layout: Layout, cniVersion: string): Record<string, unknown>;
}

export function installPrinter(net: TestNet): PrinterKit {
  const bin = join(net.dir, 'fakebin');
  const print = join(net.dir, 'print', 'next');
  mkdirSync(bin, { recursive: true });
  mkdirSync(join(net.dir, 'print'), { recursive: true });
  copyFileSync(PRINTER_SCRIPT, join(bin, 'printer'));
  copyFileSync(PRINTER_SCRIPT, join(bin, 'printer040'));
  writeFileSync(join(bin, 'printer040.versions'), '{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0"]}');
  return {
    cniPath: `${bin}:${CNI_BIN}`,
    arm(spec) {
      for (const ext of ['out', 'jq', 'exit']) rmSync(`${print}.${ext}`, { force: true });
      if (spec.jq !== undefined) writeFileSync(`${print}.jq`, spec.jq);
      else writeFileSync(`${print}.out`, spec.out ?? '');
      if (spec.exit !== undefined) writeFileSync(`${print}.exit`, String(spec.exit));
    },
    conf(layout, cniVersion) {
      const printer = { type: 'printer', print };
      const old = { type: 'printer040' }; // passes its prevResult on, in 0.4.0
      const bridge = net.bridgeDelegate();
      const chains: Record<Layout, unknown[]> = {
        before: [printer, bridge],
        between: [bridge, printer, { type: 'tuning', sysctl: {} }],
        after: [bridge, printer],
        'old-after': [bridge, printer, old],
        'old-before': [bridge, old, printer],
      };
      const conf = net.conf(cniVersion, { allocator: { start: Math.floor(net.hostID / 65536) * 65536, count: 4 } }, chains[layout]);
      delete conf.idMappings; // the allocator, so that id blocks are part of what must not leak
      return conf;
    },
  };
}

/**
 * Everything an attachment of `net` could leave behind. `quick`: without the host-wide scan of
 * nsfs mounts and processes (two spawns), for a per-case check; pins are then looked up by the
 * attachment's own paths (a mounted pin cannot be unlinked, so a leaked mount shows there).
 */
export function leftovers(net: TestNet, quick?: { pins: string[] }) {
  const list = (d: string) => (existsSync(d) ? readdirSync(d).sort() : []);
  const table = join(net.dataDir, 'allocations.json');
  return {
    // our nsfs mounts, pins in /run/netns and /run/userns, orphaned helpers
    host: quick ? quick.pins.filter((p) => existsSync(p)) : hostState(),
    veths: list(`/sys/class/net/${net.bridge}/brif`),
    reservations: net.reservations(),
    records: list(join(net.dataDir, 'records')),
    locks: list(join(net.dataDir, 'locks')),
    blocks: existsSync(table) ? JSON.parse(readFileSync(table, 'utf8')).blocks : [],
  };
}
