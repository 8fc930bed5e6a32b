// `userns-netns exec`: run a command inside an attachment's netns and the user namespace that
// owns it, as root there. No JavaScript runs inside: Node opens the netns and asks the kernel
// for its owner (NS_GET_USERNS), then execs nsenter with both fds inherited (fd 3 and 4), so
// what is entered is the namespace we checked, even if a pin is swapped meanwhile.
import { spawn } from 'node:child_process';
import { closeSync, fstatSync } from 'node:fs';
import { constants as osc } from 'node:os';
import { hostUsernsInode } from '../ns';
import { openNsPath } from '../ns/pins';
import { helperBinaries } from '../ns/preconditions';
import { CLONE_NEWNET, NS_GET_NSTYPE, NS_GET_USERNS, nsIoctlRaw } from '../ns/syscalls';
import { parseArgs } from './args';
import { OperatorError, usageError } from './fail';
import { findOne } from './records';

function openNetns(path: string): { netFd: number; userFd: number | undefined } {
  const netFd = openNsPath(path);
  if (netFd < 0) throw new OperatorError(`${path} is not a namespace file (missing or stale pin?)`);
  try {
    if (nsIoctlRaw(netFd, NS_GET_NSTYPE) !== CLONE_NEWNET) throw new OperatorError(`${path} is not a network namespace`);
    const userFd = nsIoctlRaw(netFd, NS_GET_USERNS);
    if (userFd < 0) throw new OperatorError(`cannot get the owner user namespace of ${path} (errno ${-userFd})`);
    // Entering one's own user namespace is EINVAL: a host-owned netns gets --net only.
    if (fstatSync(userFd).ino === hostUsernsInode()) {
      closeSync(userFd);
      return { netFd, userFd: undefined };
    }
    return { netFd, userFd };
  } catch (e) {
    closeSync(netFd);
    throw e;
  }
}

export async function cmdExec(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  if (a.positionals.length !== 1) throw usageError('exec needs exactly one netns path (or container id) before --');
  if (!a.rest || a.rest.length === 0) throw usageError('exec needs a command after --');
  const target = a.positionals[0]!;
  // A path is used as is (any netns, recorded or not); a container id goes through the records.
  const path = target.startsWith('/') ? target : findOne(a.dataDir, target).record.netns.path;
  const { netFd, userFd } = openNetns(path);
  const nsArgs = ['--net=/proc/self/fd/3', ...(userFd === undefined ? [] : ['--user=/proc/self/fd/4'])];
  const stdio: ('inherit' | number)[] = ['inherit', 'inherit', 'inherit', netFd, ...(userFd === undefined ? [] : [userFd])];
  const child = spawn(helperBinaries().nsenter, [...nsArgs, '--setuid', '0', '--setgid', '0', '--', ...a.rest], { stdio });
  closeSync(netFd);
  if (userFd !== undefined) closeSync(userFd);
  // The terminal's ^C reaches the child directly (same process group): we only wait and
  // report its status. A SIGTERM/SIGHUP sent to us alone is passed on, like a shell's exec.
  for (const s of ['SIGINT', 'SIGQUIT'] as const) process.on(s, () => {});
  for (const s of ['SIGTERM', 'SIGHUP'] as const) process.on(s, () => child.kill(s));
  return await new Promise<number>((resolve, reject) => {
    child.on('error', (e) => reject(new OperatorError(`cannot run nsenter: ${e.message}`)));
    child.on('exit', (code, signal) => {
      if (signal) resolve(128 + (osc.signals[signal] ?? 0));
      else resolve(code ?? 1);
    });
  });
}
