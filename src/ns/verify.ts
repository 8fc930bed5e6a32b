// Checks of the namespaces a holder made, from the fds we hold (a path could be swapped, an fd
// cannot): the right type, not the host's, the netns owned by our new user namespace, whose
// parent is the host's, and the holders still alive before anything is pinned.
import { closeSync, fstatSync } from 'node:fs';
import { CniError, ErrorCode } from '../cni/errors';
import { hostNetnsInode, hostUsernsInode } from './host-namespaces';
import type { Holder } from './holder';
import { CLONE_NEWNET, CLONE_NEWUSER, NS_GET_NSTYPE, NS_GET_PARENT, NS_GET_USERNS, nsIoctl, nsIoctlRaw, pidfdAlive } from './syscalls';

function fail(msg: string): CniError {
  return new CniError(ErrorCode.NamespaceFailure, msg);
}

function inodeOf(fd: number): number {
  return fstatSync(fd).ino;
}

/** The inode of the namespace an ioctl (NS_GET_USERNS, NS_GET_PARENT) returns an fd of. */
function relatedInode(fd: number, req: number): number {
  const related = nsIoctl(fd, req);
  try {
    return inodeOf(related);
  } finally {
    closeSync(related);
  }
}

/** A new user namespace, a child of the host's, its holder alive (its maps not yet written). Returns its inode. */
export function verifyUserns(userFd: number, holder: Holder): number {
  if (nsIoctl(userFd, NS_GET_NSTYPE) !== CLONE_NEWUSER) throw fail(`${holder.what} ${holder.pid}: opened namespace is not a user namespace`);
  const usernsInode = inodeOf(userFd);
  if (usernsInode === hostUsernsInode()) throw fail(`${holder.what} ${holder.pid} is in the host user namespace`);
  const parentIno = relatedInode(userFd, NS_GET_PARENT);
  if (parentIno !== hostUsernsInode()) throw fail(`new user namespace's parent is ${parentIno}, not the host's ${hostUsernsInode()}`);
  if (!pidfdAlive(holder.pidfd)) throw fail(`${holder.what} ${holder.pid} died before its maps were written`);
  return usernsInode;
}

/** A new netns owned by our user namespace, both holders alive: fit to pin. Returns its inode. */
export function verifyNetns(netFd: number, usernsInode: number, netHolder: Holder, userHolder: Holder): number {
  const { pid } = netHolder;
  const nsType = nsIoctlRaw(netFd, NS_GET_NSTYPE);
  if (nsType !== CLONE_NEWNET) throw fail(`${netHolder.what} ${pid}: opened namespace has type 0x${nsType.toString(16)}, not a network namespace`);
  const netnsInode = inodeOf(netFd);
  if (netnsInode === hostNetnsInode()) throw fail(`${netHolder.what} ${pid}: namespace is the host's netns`);
  const ownerIno = relatedInode(netFd, NS_GET_USERNS);
  if (ownerIno !== usernsInode) throw fail(`netns ${netnsInode} is owned by user namespace ${ownerIno}, not ours (${usernsInode})`);
  if (!pidfdAlive(netHolder.pidfd)) throw fail(`${netHolder.what} ${pid} died after its namespace was opened; not pinning`);
  if (!pidfdAlive(userHolder.pidfd)) throw fail(`${userHolder.what} ${userHolder.pid} died during creation; not pinning`);
  return netnsInode;
}
