// Adopt mode on a netns that a runtime made inside a user namespace of its own (containerd 2.x
// for hostUsers: false pods, CRI-O's pinns, podman --uidmap): the owner is recovered from the
// netns itself (NS_GET_USERNS), pinned at <usernsPinDir>/<name> as create mode pins its own,
// and its maps read and recorded, so that oci, exec, inspect and list know it as they know a
// namespace we made. The user namespace is the runtime's: only the pin is ours (`adopted`),
// and DEL removes just that pin - while the runtime's processes or pins hold the namespace, it
// lives on.
import { closeSync, fstatSync } from 'node:fs';
import { dirname } from 'node:path';
import { CniError, ErrorCode, show } from '../cni/errors';
import type { AttachmentRecord } from '../generated/types';
import { readUsernsMappings } from '../ns/inspect';
import { bindPin, closeReservation, ensurePinDir, openNsPath, releaseReservation, reservePin, type Reservation } from '../ns/pins';
import { CLONE_NEWNET, NS_GET_NSTYPE, NS_GET_USERNS, nsIoctlRaw } from '../ns/syscalls';
import type { NetnsTarget } from './netns-target';
import { usernsPinPathFor } from './pin-owners';

type AdoptTarget = Extract<NetnsTarget, { mode: 'adopt' }>;

/** The record's userns reference before anything is pinned: journalled with token and inode. */
export function ownerPinIntent(target: AdoptTarget, usernsPinDir: string, token: string): AttachmentRecord['userns'] {
  return { path: usernsPinPathFor(target.netnsPath, usernsPinDir), inode: target.ownerInode, hostOwned: false, adopted: true, pin: 'intent', token };
}

function changed(msg: string): CniError {
  return new CniError(ErrorCode.NamespaceFailure, msg);
}

/**
 * Pins the owner of the adopted netns at rec.userns.path (journalled as "intent" with its token
 * and inode before this is called) and records its maps. Both come from the fds of the very
 * netns we recorded: a path swapped meanwhile fails here instead of pinning something else.
 * A pin path already taken is refused untouched (code 101), as in create mode; the record
 * then names no pin of ours, so the rollback cannot take someone else's.
 */
export function pinAdoptedOwner(rec: AttachmentRecord): void {
  const u = rec.userns;
  const netFd = openNsPath(rec.netns.path);
  if (netFd < 0) throw changed(`CNI_NETNS: ${show(rec.netns.path)} disappeared while being adopted`);
  let ownerFd = -1;
  try {
    if (nsIoctlRaw(netFd, NS_GET_NSTYPE) !== CLONE_NEWNET || fstatSync(netFd).ino !== rec.netns.inode) {
      throw changed(`CNI_NETNS: ${show(rec.netns.path)} changed while being adopted (no longer netns ${rec.netns.inode})`);
    }
    ownerFd = nsIoctlRaw(netFd, NS_GET_USERNS);
    if (ownerFd < 0) throw changed(`CNI_NETNS: cannot get the owner user namespace of ${show(rec.netns.path)} (errno ${-ownerFd})`);
    if (fstatSync(ownerFd).ino !== u.inode) throw changed(`CNI_NETNS: ${show(rec.netns.path)} is now owned by user namespace ${fstatSync(ownerFd).ino}, not ${u.inode}`);
    const mappings = readUsernsMappings(ownerFd);
    ensurePinDir(dirname(u.path));
    let r: Reservation;
    try {
      r = reservePin(u.path, 'userns pin', u.token);
    } catch (err) {
      // Nothing of ours is at the path (reservePin removed its own temporary name): the
      // teardown must not look at whatever is there.
      u.pin = 'none';
      throw err;
    }
    try {
      bindPin(r, ownerFd, u.inode!);
    } catch (err) {
      releaseReservation(r);
      throw err;
    }
    closeReservation(r);
    u.pin = 'pinned';
    rec.mappings = mappings;
  } finally {
    if (ownerFd >= 0) closeSync(ownerFd);
    closeSync(netFd);
  }
}
