// Delegates marked `runInPodUserns`: run inside the pod's user namespace and netns, as uid/gid 0
// there (the pod's mapped host ids), so that what they set up sees pod uids (iptables
// owner-match rules installed from the host user namespace fail). Node is multithreaded and
// cannot setns(CLONE_NEWUSER) itself, so the delegate is exec'd through util-linux nsenter.
// The namespaces entered are the ones the record names: we open the netns pin, check it is the
// recorded netns inode and that its owner (NS_GET_USERNS, from that very fd) is the recorded
// user namespace, and hand nsenter those fds as /proc/<our pid>/fd/N - a pin swapped after the
// check changes nothing (as `userns-netns exec` does). nsenter without --preserve-credentials
// drops supplementary groups and becomes uid/gid 0 of the entered user namespace (explicit
// --setuid/--setgid 0 below); with it, the delegate would keep host uid 0, unmapped there.
// Verbs without a netns (GC, STATUS, a DEL whose netns is gone or of an earlier boot, the DEL
// of a damaged record's delegates) run such a delegate as any other: there is no pod user
// namespace to enter, and its DEL must still release what it keeps outside the netns.
import { closeSync, fstatSync } from 'node:fs';
import { CniError, ErrorCode, show } from '../cni/errors';
import type { DelegateLauncher } from '../delegate';
import type { IdMappings } from '../generated/types';
import { hostUsernsInode } from '../ns';
import { hostIdOfRoot, whyNotExecutable } from '../ns/mapped-exec';
import { openNsPath } from '../ns/pins';
import { helperBinaries } from '../ns/preconditions';
import { CLONE_NEWNET, NS_GET_NSTYPE, NS_GET_USERNS, nsIoctlRaw } from '../ns/syscalls';

/** The netns delegates run against, with what the record says about it and its owner. */
export interface DelegateNetns {
  /** CNI_NETNS for the delegates: the pin (create mode) or the adopted netns. */
  path: string;
  inode?: number;
  /** The owner user namespace's recorded inode; absent or hostOwned: no pod user namespace. */
  usernsInode?: number;
  hostOwned?: boolean;
  mappings?: IdMappings;
}

const KEY = 'runInPodUserns';

function refused(type: string, why: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, `${KEY}: delegate ${show(type)} cannot run in the pod's user namespace: ${why}`);
}

function changed(type: string, why: string): CniError {
  return new CniError(ErrorCode.NamespaceFailure, `${KEY}: delegate ${show(type)} not started: ${why}`);
}

/** Code 7 naming the key and the delegate when the netns has no user namespace of its own. */
export function refuseWithoutPodUserns(type: string, netnsPath: string, where = KEY): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, `${where}: delegate ${show(type)} cannot run in the pod's user namespace: CNI_NETNS ${show(netnsPath)} is owned by the host's user namespace (there is no pod user namespace)`);
}

/**
 * Runs `fn` with the nsenter launcher that puts delegate `type` (binary `binary`) into the pod's
 * user namespace and netns; the namespace fds stay open until `fn` settles.
 */
export async function withPodUserns<T>(type: string, binary: string, netns: DelegateNetns, fn: (via: DelegateLauncher) => Promise<T>): Promise<T> {
  if (netns.hostOwned || netns.usernsInode === undefined) throw refuseWithoutPodUserns(type, netns.path);
  if (netns.mappings) {
    const uidMap = netns.mappings.uidMappings;
    const gidMap = netns.mappings.gidMappings ?? uidMap;
    const uid = hostIdOfRoot(uidMap);
    const gid = hostIdOfRoot(gidMap);
    if (uid === undefined || gid === undefined) throw refused(type, `its ${uid === undefined ? 'uid' : 'gid'} map has no container id 0`);
    const why = whyNotExecutable(binary, { uid, gid, uidMap, gidMap });
    if (why !== undefined) throw refused(type, `the pod's root (host uid ${uid}, gid ${gid}) cannot run ${binary}: ${why}`);
  }
  const netFd = openNsPath(netns.path);
  if (netFd < 0) throw changed(type, `${netns.path} is not a namespace file (pin gone?)`);
  let userFd = -1;
  try {
    const ino = fstatSync(netFd).ino;
    if (nsIoctlRaw(netFd, NS_GET_NSTYPE) !== CLONE_NEWNET || ino !== netns.inode) {
      throw changed(type, `${netns.path} is no longer the recorded netns ${netns.inode} (holds ${ino})`);
    }
    userFd = nsIoctlRaw(netFd, NS_GET_USERNS);
    if (userFd < 0) throw changed(type, `cannot get the owner user namespace of ${netns.path} (errno ${-userFd})`);
    const owner = fstatSync(userFd).ino;
    if (owner !== netns.usernsInode || owner === hostUsernsInode()) {
      throw changed(type, `netns ${netns.path} is owned by user namespace ${owner}, recorded ${netns.usernsInode}`);
    }
    const fdPath = (fd: number) => `/proc/${process.pid}/fd/${fd}`;
    return await fn({
      file: helperBinaries().nsenter,
      args: [`--user=${fdPath(userFd)}`, `--net=${fdPath(netFd)}`, '--setuid', '0', '--setgid', '0', '--'],
    });
  } finally {
    if (userFd >= 0) closeSync(userFd);
    closeSync(netFd);
  }
}

/**
 * ADD on a netns owned by the host's user namespace: a delegate marked runInPodUserns has no pod
 * user namespace to run in (code 7, naming the delegate's key).
 */
export function refuseMarkedDelegatesOnHostOwned(delegates: ReadonlyArray<{ type: string; runInPodUserns?: boolean }>, netnsPath: string): void {
  const i = delegates.findIndex((d) => d.runInPodUserns === true);
  if (i >= 0) throw refuseWithoutPodUserns(delegates[i]!.type, netnsPath, `delegates[${i}].${KEY}`);
}
