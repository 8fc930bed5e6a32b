// Can the pod's root run a file? Inside the pod's user namespace uid/gid 0 are the mapped host
// ids, and that root's capabilities count only over files whose owner uid and gid both map
// into the namespace (the kernel's capable_wrt_inode_uidgid). A root-owned binary in
// /usr/lib/cni is therefore judged by its "other" bits, as for any unprivileged user; a 0700
// plugin or a 0700 directory on the way cannot be run from there. Checked before the delegate
// is started, so the error names the file instead of nsenter's "Permission denied".
import { lstatSync, realpathSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import type { IdMapRange } from './mappings';

export interface MappedRoot {
  /** Host uid and gid of container id 0. */
  uid: number;
  gid: number;
  uidMap: readonly IdMapRange[];
  gidMap: readonly IdMapRange[];
}

/** The host id that container id 0 maps to, or undefined when 0 is not mapped. */
export function hostIdOfRoot(map: readonly IdMapRange[]): number | undefined {
  return map.find((m) => m.containerID === 0)?.hostID; // container ids are >= 0
}

const mapsId = (map: readonly IdMapRange[], id: number) => map.some((m) => id >= m.hostID && id < m.hostID + m.size);

/** May `who` execute (a file) or search (a directory) `st`? Mode bits and capabilities; no ACLs. */
function mayExecute(st: Stats, who: MappedRoot): boolean {
  const bits = st.uid === who.uid ? (st.mode >> 6) & 7 : st.gid === who.gid ? (st.mode >> 3) & 7 : st.mode & 7;
  if (bits & 1) return true;
  // CAP_DAC_OVERRIDE in the pod's user namespace, over an inode owned inside it: any directory,
  // a file with at least one execute bit.
  const privileged = mapsId(who.uidMap, st.uid) && mapsId(who.gidMap, st.gid);
  return privileged && (st.isDirectory() || (st.mode & 0o111) !== 0);
}

/** Every directory a lookup of `path` passes through, as written and after symlinks. */
function directoriesOn(path: string): string[] {
  const dirs = new Set<string>();
  for (const p of [path, realpathSync(path)]) {
    for (let d = dirname(p); ; d = dirname(d)) {
      dirs.add(d);
      if (d === '/') break;
    }
  }
  return [...dirs];
}

/** Why `who` cannot run `binary`, or undefined when it can. */
export function whyNotExecutable(binary: string, who: MappedRoot): string | undefined {
  try {
    for (const d of directoriesOn(binary)) {
      if (!mayExecute(lstatSync(d), who)) return `directory ${d} is not searchable by it`;
    }
    const real = realpathSync(binary);
    const st = lstatSync(real);
    if (!st.isFile()) return `${real} is not a regular file`;
    if (!mayExecute(st, who)) return `${real} (owner ${st.uid}:${st.gid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}) is not executable by it`;
    return undefined;
  } catch (err) {
    return `cannot look at it: ${(err as Error).message}`;
  }
}
