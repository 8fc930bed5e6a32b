// `userns-netns exec`: run a command inside an attachment's netns and the user namespace that
// owns it, as root there. No JavaScript runs inside: Node opens the netns and asks the kernel
// for its owner (NS_GET_USERNS), checks both fds, then execs nsenter on them. What is entered
// is the namespace we checked, even if a pin is swapped meanwhile:
// - by container id, only a live attachment (the same check as `inspect`), and the fd we
//   opened must be its recorded netns, owned by its recorded user namespace;
// - by path, any netns, but one whose user namespaces were all created by root: whoever
//   created one holds every capability over the command (ptrace, pidfd_getfd: the runc
//   CVE-2016-9962 class), so anything else needs --allow-foreign-owner.
// No fd above 2 reaches the command: ours are all close-on-exec, and nsenter opens the
// namespaces through /proc/<our pid>/fd/N (we stay alive, holding them, until it exits).
import { spawn } from 'node:child_process';
import { closeSync, fstatSync } from 'node:fs';
import { constants as osc } from 'node:os';
import type { AttachmentRecord } from '../generated/types';
import { hostUsernsInode } from '../ns';
import { foreignCreatorUid } from '../ns/owner-uid';
import { openNsPath } from '../ns/pins';
import { helperBinaries } from '../ns/preconditions';
import { CLONE_NEWNET, NS_GET_NSTYPE, NS_GET_USERNS, cloexecFrom, nsIoctlRaw } from '../ns/syscalls';
import { parseArgs } from './args';
import { OperatorError, usageError } from './fail';
import { verify } from '../attachment/verify';
import { findOne } from './records';

interface OpenedNetns {
  netFd: number;
  userFd: number;
  hostOwned: boolean;
}

function openNetns(path: string): OpenedNetns {
  const netFd = openNsPath(path);
  if (netFd < 0) throw new OperatorError(`${path} is not a namespace file (missing or stale pin?)`);
  try {
    if (nsIoctlRaw(netFd, NS_GET_NSTYPE) !== CLONE_NEWNET) throw new OperatorError(`${path} is not a network namespace`);
    const userFd = nsIoctlRaw(netFd, NS_GET_USERNS);
    if (userFd < 0) throw new OperatorError(`cannot get the owner user namespace of ${path} (errno ${-userFd})`);
    return { netFd, userFd, hostOwned: fstatSync(userFd).ino === hostUsernsInode() };
  } catch (e) {
    closeSync(netFd);
    throw e;
  }
}

/** By container id: the attachment must be live, and the fds we hold must be its namespaces. */
function checkAttachment(target: string, r: AttachmentRecord, ns: OpenedNetns): void {
  const live = verify(r);
  if (!live.live) throw new OperatorError(`attachment ${target} is not live: ${live.problems.join('; ')} (run inspect)`);
  const [net, owner] = [fstatSync(ns.netFd).ino, fstatSync(ns.userFd).ino];
  if (net !== r.netns.inode || owner !== r.userns.inode) {
    throw new OperatorError(`${r.netns.path} changed while being checked (netns ${net}, owner ${owner}; recorded ${r.netns.inode}, ${r.userns.inode}): run inspect`);
  }
}

export async function cmdExec(argv: string[]): Promise<number> {
  const a = parseArgs(argv, { allowForeignOwner: true });
  if (a.positionals.length !== 1) throw usageError('exec needs exactly one netns path (or container id) before --');
  if (!a.rest || a.rest.length === 0) throw usageError('exec needs a command after --');
  const target = a.positionals[0]!;
  const byPath = target.startsWith('/');
  const record = byPath ? undefined : findOne(a.dataDir, target).record;
  const ns = openNetns(record ? record.netns.path : target);
  try {
    if (record) checkAttachment(target, record, ns);
    const foreign = foreignCreatorUid(ns.userFd);
    if (foreign !== undefined && !a.allowForeignOwner) {
      throw new OperatorError(
        `the user namespace owning ${record?.netns.path ?? target} (or one above it) was created by uid ${foreign}, not root: ` + 'that user could take over the command (ptrace); pass --allow-foreign-owner to enter it anyway',
      );
    }
    // Nothing we hold or inherited beyond 0-2 may reach nsenter or the command.
    const rc = cloexecFrom(3);
    if (rc < 0) throw new OperatorError(`cannot mark fds close-on-exec (close_range: errno ${-rc})`);
    // Entering one's own user namespace is EINVAL: a host-owned netns gets --net only.
    const fdPath = (fd: number) => `/proc/${process.pid}/fd/${fd}`;
    const nsArgs = [`--net=${fdPath(ns.netFd)}`, ...(ns.hostOwned ? [] : [`--user=${fdPath(ns.userFd)}`])];
    const child = spawn(helperBinaries().nsenter, [...nsArgs, '--setuid', '0', '--setgid', '0', '--', ...a.rest], { stdio: 'inherit' });
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
  } finally {
    closeSync(ns.netFd);
    closeSync(ns.userFd);
  }
}
