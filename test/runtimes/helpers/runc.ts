// runc bundles for the runtime tests: `runc spec`'s defaults (so /sys stays the default sysfs
// mount), a busybox rootfs, and the namespaces/mappings under test. State goes to a private
// --root so nothing touches the host's runc state.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from '../../helpers/host';
import { makeRootfs } from './busybox';

export interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}
export interface LinuxFragment {
  namespaces: { type: string; path?: string }[];
  uidMappings?: IdMap[];
  gidMappings?: IdMap[];
}

/** A bundle in `dir` whose process runs `script`; rootfs owned by the mapping's host root. */
export function makeBundle(dir: string, script: string, linux: LinuxFragment): string {
  mkdirSync(dir, { recursive: true });
  // The container's root (a host uid with no rights here) must traverse to its rootfs.
  chmodSync(dir, 0o755);
  const hostRoot = linux.uidMappings?.find((m) => m.containerID === 0)?.hostID;
  makeRootfs(join(dir, 'rootfs'), hostRoot);
  sh('runc', ['spec', '--bundle', dir]);
  const cfgPath = join(dir, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  cfg.process.terminal = false;
  cfg.process.args = ['sh', '-c', script];
  // busybox ping needs a raw socket (ping_group_range is "1 0" in a fresh netns).
  for (const set of ['bounding', 'effective', 'permitted']) cfg.process.capabilities[set].push('CAP_NET_RAW');
  const ours = new Set(linux.namespaces.map((n) => n.type));
  cfg.linux.namespaces = [...cfg.linux.namespaces.filter((n: { type: string }) => !ours.has(n.type)), ...linux.namespaces];
  if (linux.uidMappings) cfg.linux.uidMappings = linux.uidMappings;
  if (linux.gidMappings) cfg.linux.gidMappings = linux.gidMappings;
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  return dir;
}

export interface RuncRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runcRun(stateRoot: string, bundle: string, id: string): RuncRun {
  const r = spawnSync('runc', ['--root', stateRoot, 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function runcDelete(stateRoot: string, id: string): void {
  sh('runc', ['--root', stateRoot, 'delete', '--force', id], { allowFail: true });
}
