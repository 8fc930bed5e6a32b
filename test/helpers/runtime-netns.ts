// A userns-owned netns made by hand the way containerd 2.x makes one for a hostUsers: false
// pod (and CRI-O's pinns): the user namespace first, its maps written from the host as root,
// then the netns from a process that is root inside that user namespace, pinned under
// /run/netns. Only util-linux and the kernel, nothing of the plugin's own. The two sleepers are
// ended (by pid) once the netns is pinned: the pin keeps the netns, and the netns its owner.
import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { sh } from './host';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitNsChanged(pid: number, type: 'user' | 'net', child: ChildProcess): Promise<void> {
  const own = readlinkSync(`/proc/self/ns/${type}`);
  for (let t = 0; ; t += 10) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/${type}`) !== own) return;
    } catch {
      /* not yet */
    }
    if (child.exitCode !== null || t > 5000) throw new Error(`pid ${pid} never got a ${type} namespace of its own (exit ${child.exitCode})`);
    await sleep(10);
  }
}

function end(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export interface RuntimeNetns {
  usernsInode: number;
  netnsInode: number;
}

/** Makes the netns at `pin` (e.g. /run/netns/NAME), owned by a new user namespace with `map` for uids and gids. */
export async function makeRuntimeNetns(pin: string, map: { containerID: number; hostID: number; size: number }): Promise<RuntimeNetns> {
  const user = spawn('unshare', ['-U', '--', 'sleep', '600'], { stdio: 'ignore' });
  let net: ChildProcess | undefined;
  try {
    await waitNsChanged(user.pid!, 'user', user);
    const line = `${map.containerID} ${map.hostID} ${map.size}\n`;
    writeFileSync(`/proc/${user.pid}/uid_map`, line);
    writeFileSync(`/proc/${user.pid}/gid_map`, line);
    net = spawn('nsenter', [`--user=/proc/${user.pid}/ns/user`, '--setuid', '0', '--setgid', '0', '--', 'unshare', '--net', '--', 'sleep', '600'], { stdio: 'ignore' });
    await waitNsChanged(net.pid!, 'net', net);
    sh('mkdir', ['-p', dirname(pin)]);
    sh('touch', [pin]);
    sh('mount', ['--bind', `/proc/${net.pid}/ns/net`, pin]);
    return { usernsInode: statSync(`/proc/${user.pid}/ns/user`).ino, netnsInode: statSync(pin).ino };
  } finally {
    if (net) end(net);
    end(user);
  }
}

/** Removes such a pin (what the runtime's own teardown does). */
export function removeRuntimeNetns(pin: string): void {
  sh('umount', ['-l', pin], { allowFail: true });
  sh('rm', ['-f', pin], { allowFail: true });
}
