// Shared helpers for the namespace engine tests: private pin dirs, cleanup, counters.
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createPinnedNamespaces, type CreatedNamespaces, unpin } from '../../src/ns/index';
import { uniqueName } from './unique';

/** A unique pin name for this test process (the common name scheme, test/helpers/unique.ts). */
export function uniq(): string {
  return uniqueName('uxt');
}

/** Root of this process's private pin dirs; removed by cleanupRoot(). */
export const ROOT = `/run/uxt-${process.pid}`;
export const NET_DIR = `${ROOT}/netns`;
export const USER_DIR = `${ROOT}/userns`;

export function pinPaths(name = uniq()): { name: string; netnsPin: string; usernsPin: string } {
  return { name, netnsPin: `${NET_DIR}/${name}`, usernsPin: `${USER_DIR}/${name}` };
}

export function safeUnpin(...paths: string[]): void {
  for (const p of paths) {
    try {
      unpin(p);
    } catch (e) {
      console.error(`cleanup: ${(e as Error).message}`);
    }
  }
}

/** Unmount the pin dirs (ensurePinDir made them bind mounts of themselves) and remove ROOT. */
export function cleanupRoot(): void {
  for (const d of [NET_DIR, USER_DIR]) {
    for (let i = 0; i < 4; i++) {
      try {
        execFileSync('umount', ['-l', d], { stdio: 'ignore' });
      } catch {
        break;
      }
    }
  }
  fs.rmSync(ROOT, { recursive: true, force: true });
}

/** A userns+netns pair made by the engine and pinned in this process's dirs (standing in for a pod's, or a runtime's); `drop` unpins both. */
export async function pinnedPair(): Promise<{ ns: CreatedNamespaces; drop: () => void }> {
  const p = pinPaths();
  try {
    const ns = await createPinnedNamespaces({ mappings: ONE, ...p });
    return { ns, drop: () => safeUnpin(p.netnsPin, p.usernsPin) };
  } catch (e) {
    safeUnpin(p.netnsPin, p.usernsPin);
    throw e;
  }
}

export const ONE = { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] };

/**
 * Number of nsfs mounts visible to this process; with `under`, only those mounted below that
 * directory (other test suites may pin namespaces concurrently on a shared machine).
 */
export function nsfsMountCount(under?: string): number {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - nsfs /.test(l) && (under === undefined || (l.split(' ')[4] ?? '').startsWith(`${under}/`))).length;
}

/** nsfs mounts at exactly this path. */
export function nsfsMountsAt(p: string): number {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4] === p).length;
}

export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** Direct children of this process, from all its threads (zombies included). */
export function childPids(): number[] {
  const out: number[] = [];
  for (const t of fs.readdirSync('/proc/self/task')) {
    try {
      const s = fs.readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim();
      if (s) out.push(...s.split(/\s+/).map(Number));
    } catch {
      /* thread gone */
    }
  }
  return out;
}

/** Owner uid of lo's sysfs files, seen from the host, for the netns at `nsPath`. */
export function loSysfsOwner(nsPath: string): number {
  const out = execFileSync('nsenter', [`--net=${nsPath}`, 'unshare', '--mount', 'sh', '-c', 'mount -t sysfs none /sys && stat -c %u /sys/class/net/lo/ifindex'], { encoding: 'utf8' });
  return Number(out.trim());
}

/** Wait until process pid is a zombie or gone (after a SIGKILL we sent). */
export function waitDead(pid: number, ms = 2000): void {
  const end = Date.now() + ms;
  const sab = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < end) {
    let st: string;
    try {
      st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return;
    }
    const state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return;
    Atomics.wait(sab, 0, 0, 1);
  }
  throw new Error(`process ${pid} did not die within ${ms} ms`);
}
