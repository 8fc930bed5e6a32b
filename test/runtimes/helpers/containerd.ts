// A private containerd for one test: its own root, state dir, sockets and config, CRI off.
// Stopped by its pid; the shims it started (they outlive it, reparented to init) are found by
// our unique socket path in their command line and stopped by pid too.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from '../../helpers/host';
import { pidsWithArg } from './processes';

export interface Containerd {
  sock: string;
  pid: number;
  log: string;
  ctr(args: string[], opts?: { allowFail?: boolean }): string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (let t = 0; t < ms; t += 50) {
    if (!existsSync(`/proc/${pid}`)) return true;
    await sleep(50);
  }
  return false;
}

/** Mounts at or below `dir` (snapshots, shim rootfs), deepest first. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

// containerd 1.6 puts shim sockets in /run/containerd/s whatever its config says. When that
// tree did not exist before us, its empty dirs are removed again (rmdir: never anything else).
const RUN_DIR = '/run/containerd';
const RUN_SUBDIRS = ['s', 'fifo', 'runc/default', 'runc'];

function removeEmptyRunDirs(): void {
  for (const d of [...RUN_SUBDIRS.map((s) => join(RUN_DIR, s)), RUN_DIR]) {
    try {
      rmdirSync(d);
    } catch {
      /* missing or not empty: not ours to touch */
    }
  }
}

export async function startContainerd(work: string): Promise<Containerd> {
  const hadRunDir = existsSync(RUN_DIR);
  const root = join(work, 'root');
  const state = join(work, 'state');
  for (const d of [root, state, join(work, 'opt')]) mkdirSync(d, { recursive: true, mode: 0o711 });
  const sock = join(work, 'containerd.sock');
  const config = join(work, 'config.toml');
  writeFileSync(
    config,
    `version = 2
root = "${root}"
state = "${state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${sock}"
[ttrpc]
  address = "${sock}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${join(work, 'opt')}"
`,
  );
  const log = join(work, 'containerd.log');
  const fd = openSync(log, 'a');
  const child: ChildProcess = spawn('containerd', ['--config', config], { stdio: ['ignore', fd, fd] });
  const pid = child.pid!;
  const ctr = (args: string[], opts: { allowFail?: boolean } = {}) => sh('ctr', ['--address', sock, ...args], opts);
  const stop = async () => {
    if (existsSync(`/proc/${pid}`)) {
      process.kill(pid, 'SIGTERM');
      if (!(await waitGone(pid, 5000))) process.kill(pid, 'SIGKILL');
      await waitGone(pid, 2000);
    }
    // containerd-shim-runc-v2 -namespace default -address <sock> ...
    for (const p of pidsWithArg(sock)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
      await waitGone(p, 2000);
    }
    for (const m of mountsUnder(work)) sh('umount', ['-l', m], { allowFail: true });
    if (!hadRunDir) removeEmptyRunDirs();
  };
  for (let t = 0; ; t += 100) {
    if (existsSync(sock) && ctr(['version'], { allowFail: true }).includes('Server:')) break;
    if (child.exitCode !== null || t > 15_000) {
      await stop();
      throw new Error(`containerd did not come up (exit ${child.exitCode}): ${readFileSync(log, 'utf8').slice(-2000)}`);
    }
    await sleep(100);
  }
  return { sock, pid, log, ctr, stop };
}
