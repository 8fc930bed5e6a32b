// Shared by the id-mapping end-to-end tests: a private id pool per test, reading a pinned
// userns's maps, running the built plugin concurrently, and "nothing was created" snapshots.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readTable } from '../../../src/idmap/allocation-file';
import { hostState, sh, type TestNet } from '../../helpers/host';
import { CNI_BIN, runPluginAsync, type PluginRun } from '../../helpers/plugin';

export const B = 65536;
// Each test process gets 1024 blocks of the upper id half, each test 44 of them, so parallel
// test runs and tests within a run never share ids. 29 windows * 1024 blocks stay < 2^32.
const PROC_BASE = 0x8000_0000 + (process.pid % 29) * 1024 * B;
let seq = 0;
export const WINDOW = 44;

/** First host id of a fresh pool of WINDOW blocks for one test. */
export function freshPoolStart(): number {
  if (seq >= 1024 / WINDOW) throw new Error('too many pools for this process window');
  return PROC_BASE + seq++ * WINDOW * B;
}

/** The network's config with no explicit mapping, an allocator pool, and a log file. */
export function allocConf(net: TestNet, allocator: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return net.conf('1.0.0', { idMappings: undefined, allocator, logFile: join(net.dir, 'plugin.log'), logLevel: 'info', ...extra });
}

/** uid_map or gid_map of a pinned userns, one "inside outside size" string per line. */
export function nsMap(usernsPin: string, which: 'uid_map' | 'gid_map'): string[] {
  return sh('nsenter', [`--user=${usernsPin}`, 'cat', `/proc/self/${which}`])
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).join(' '));
}

export function recordOf(net: TestNet, containerId: string): any {
  const f = join(net.dataDir, 'records', `${net.name}+${containerId}+eth0.json`);
  return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : undefined;
}

export function recordFiles(net: TestNet): string[] {
  const d = join(net.dataDir, 'records');
  return existsSync(d) ? readdirSync(d).sort() : [];
}

/** Blocks in the allocation table as [containerId, hostID], sorted by hostID. */
export function tableBlocks(net: TestNet): Array<[string, number]> {
  if (!existsSync(join(net.dataDir, 'allocations.json'))) return [];
  const read = readTable(net.dataDir);
  if (!read.table) throw new Error(`allocation table unusable: ${read.problem}`);
  return read.table.blocks.map((b) => [b[1], b[4]]);
}

/** Attachments with an explicit mapping in the allocation table, by container id. */
export function tableExplicit(net: TestNet): string[] {
  if (!existsSync(join(net.dataDir, 'allocations.json'))) return [];
  return readTable(net.dataDir)
    .table!.explicit.map((x) => x[1])
    .sort();
}

export function logEvents(net: TestNet): Array<Record<string, unknown>> {
  const f = join(net.dir, 'plugin.log');
  return existsSync(f)
    ? readFileSync(f, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
}

/** Everything an ADD could leave: pins, mounts, helpers, veths, IPAM reservations, records, table. */
export function snapshot(net: TestNet) {
  return { host: hostState(), veths: net.vethsOnBridge().length, reservations: net.reservations(), records: recordFiles(net), table: tableBlocks(net), explicit: tableExplicit(net) };
}

/** The built plugin as a child process, not waiting: for concurrent runs. */
export function spawnPluginAsync(env: Record<string, string>, conf: object): Promise<PluginRun> {
  return runPluginAsync({ CNI_PATH: CNI_BIN, CNI_IFNAME: 'eth0', ...env }, conf);
}
