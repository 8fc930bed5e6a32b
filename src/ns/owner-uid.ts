// Who can reach into a namespace: the creator of its owning user namespace, and of every user
// namespace above that one, holds every capability in it (ptrace, pidfd_getfd) over anything
// we place there. A netns is only as trustworthy as the whole chain of user namespaces above it.
import { closeSync } from 'node:fs';
import { NS_GET_PARENT, nsIoctlRaw, nsOwnerUid } from './syscalls';
import { errnoName } from '../sys/errno';

/**
 * The first creator uid other than root on the way from the user namespace behind `userFd` up
 * to ours, or undefined when root created every one of them. `userFd` stays open and ours.
 */
export function foreignCreatorUid(userFd: number): number | undefined {
  let fd = userFd;
  try {
    for (;;) {
      const uid = nsOwnerUid(fd);
      if (uid < 0) throw new Error(`NS_GET_OWNER_UID failed: ${errnoName(-uid)}`);
      if (uid !== 0) return uid;
      // EPERM: the parent is outside our reach, i.e. ours or an ancestor of ours (done).
      const parent = nsIoctlRaw(fd, NS_GET_PARENT);
      if (parent < 0) return undefined;
      if (fd !== userFd) closeSync(fd);
      fd = parent;
    }
  } finally {
    if (fd !== userFd) closeSync(fd);
  }
}
