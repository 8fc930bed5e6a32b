// Inspector: what is at a path (pin or /proc/<pid>/ns/*), and who owns it.
import * as fs from 'node:fs';
import { CniError, ErrorCode } from '../cni/errors';
import { type IdMappings, parseMap } from './mappings';
import { openNsPath } from './pins';
import { helperBinaries } from './preconditions';
import { hostUsernsInode } from './host-namespaces';
import { CLONE_NEWNET, CLONE_NEWUSER, NS_GET_NSTYPE, NS_GET_USERNS, nsIoctlRaw, pidfdOpen, pidfdReap, pipe, spawn, closeFd } from './syscalls';

export interface NsInspection {
  path: string;
  exists: boolean;
  /** a live namespace file: an nsfs bind mount (pin) or a /proc/<pid>/ns/* link */
  isNsfsMount: boolean;
  nsType?: 'net' | 'user' | 'other';
  inode?: number;
  /** the owning user namespace (for a user namespace: its parent) */
  owner?: { inode: number; isHostUserns: boolean; mappings?: IdMappings };
}

/**
 * Mappings of the user namespace behind `userFd`, as seen from inside it (second field relative
 * to its parent). A process has to be placed in it: `nsenter --user=/proc/self/fd/3 -- head`.
 */
export function readUsernsMappings(userFd: number): IdMappings {
  if (fs.fstatSync(userFd).ino === hostUsernsInode()) {
    return {
      uidMappings: parseMap(fs.readFileSync('/proc/self/uid_map', 'utf8')),
      gidMappings: parseMap(fs.readFileSync('/proc/self/gid_map', 'utf8')),
    };
  }
  const bins = helperBinaries();
  const [r, wr] = pipe();
  let w = wr;
  let pidfd = -1;
  try {
    const pid = spawn(bins.nsenter, ['nsenter', '--user=/proc/self/fd/3', '--', bins.head, '-n', '1000', '/proc/self/uid_map', '/proc/self/gid_map'], ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL=C'], userFd, w, w);
    closeFd(w);
    w = -1;
    pidfd = pidfdOpen(pid);
    pidfdReap(pidfd); // output is < 8 KiB, fits the pipe: the child never blocks on it
    const buf = Buffer.alloc(65536);
    let out = '';
    for (;;) {
      const n = fs.readSync(r, buf, 0, buf.length, null);
      if (n <= 0) break;
      out += buf.toString('utf8', 0, n);
    }
    const parts = out.split(/==> (\/proc\/self\/[ug]id_map) <==\n/);
    const uidIdx = parts.indexOf('/proc/self/uid_map');
    const gidIdx = parts.indexOf('/proc/self/gid_map');
    if (uidIdx < 0 || gidIdx < 0) throw new Error(`unexpected output: ${out.slice(0, 200)}`);
    return { uidMappings: parseMap(parts[uidIdx + 1] ?? ''), gidMappings: parseMap(parts[gidIdx + 1] ?? '') };
  } catch (e) {
    throw new CniError(ErrorCode.NamespaceFailure, `cannot read the mappings of user namespace ${fs.fstatSync(userFd).ino}: ${(e as Error).message}`, { cause: e });
  } finally {
    if (w >= 0) closeFd(w);
    closeFd(r);
    if (pidfd >= 0) closeFd(pidfd);
  }
}

function inspectSync(p: string, withMappings: boolean): NsInspection {
  const res: NsInspection = { path: p, exists: false, isNsfsMount: false };
  try {
    fs.lstatSync(p);
    res.exists = true;
  } catch {
    return res;
  }
  const fd = openNsPath(p);
  if (fd < 0) return res;
  try {
    const t = nsIoctlRaw(fd, NS_GET_NSTYPE);
    if (t < 0) return res;
    res.isNsfsMount = true;
    res.nsType = t === CLONE_NEWNET ? 'net' : t === CLONE_NEWUSER ? 'user' : 'other';
    res.inode = fs.fstatSync(fd).ino;
    const ownerFd = nsIoctlRaw(fd, NS_GET_USERNS);
    if (ownerFd >= 0) {
      try {
        const ino = fs.fstatSync(ownerFd).ino;
        res.owner = { inode: ino, isHostUserns: ino === hostUsernsInode() };
        if (withMappings) {
          // For a user namespace report its own mappings; for others, their owner's.
          res.owner.mappings = readUsernsMappings(res.nsType === 'user' ? fd : ownerFd);
        }
      } finally {
        fs.closeSync(ownerFd);
      }
    }
    return res;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Inspect a path: a pin or /proc/<pid>/ns/<type>. Synchronous unless mappings are asked for
 * (a helper process has to be placed in the user namespace to read them).
 */
export function inspectNamespace(path: string): NsInspection;
export function inspectNamespace(path: string, opts: { withMappings: true }): Promise<NsInspection>;
export function inspectNamespace(path: string, opts?: { withMappings?: boolean }): NsInspection | Promise<NsInspection>;
export function inspectNamespace(path: string, opts?: { withMappings?: boolean }): NsInspection | Promise<NsInspection> {
  if (opts?.withMappings) {
    try {
      return Promise.resolve(inspectSync(path, true));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  return inspectSync(path, false);
}
