// `userns-netns oci`: the runtime-spec fragment to join an attachment. Everything in it is
// read from the live kernel, not copied from the record: runc refuses mappings that differ
// from the user namespace's real ones, and a stale pin must fail here, not in the runtime.
import type { OciFragment } from '../generated/types';
import { inspectNamespace } from '../ns';
import { parseArgs } from './args';
import { OperatorError, usageError } from './fail';
import { findOne } from './records';
import { verify } from '../attachment/verify';

export type { OciFragment };

/** The path of the netns owner, or why there is none (an adopt-mode record of an older version has no owner pin). */
function usernsPathFor(mode: 'create' | 'adopt', recordedUserns: string, netnsPath: string, ownerInode: number): string {
  const candidates = recordedUserns !== '' ? [recordedUserns] : []; // create mode, or joined pins
  // An adopted /proc/<pid>/ns/net: the same process's user namespace is the owner when the
  // runtime put the process in it (containerd with user namespaces does). Valid while it lives.
  const m = /^\/proc\/(\d+)\/ns\/net$/.exec(netnsPath);
  if (m) candidates.push(`/proc/${m[1]}/ns/user`);
  for (const c of candidates) {
    const u = inspectNamespace(c);
    if (u.isNsfsMount && u.nsType === 'user' && u.inode === ownerInode) return c;
  }
  throw new OperatorError(
    mode === 'create'
      ? `userns pin ${recordedUserns} is missing or is not the owner of ${netnsPath} (user namespace ${ownerInode}): stale pins, run inspect`
      : `cannot give a user namespace path: the adopted netns ${netnsPath} is owned by user namespace ${ownerInode}, which this record (written by an older version) has no pin of (join the namespaces of the process that owns it)`,
  );
}

export async function cmdOci(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const a = parseArgs(argv);
  if (a.positionals.length !== 1) throw usageError('oci needs exactly one container id or netns path');
  const { record: r } = findOne(a.dataDir, a.positionals[0]!);
  const netnsPath = r.netns.path;
  const live = verify(r);
  if (!live.live) throw new OperatorError(`attachment ${a.positionals[0]!} is not live: ${live.problems.join('; ')} (run inspect)`);
  const net = inspectNamespace(netnsPath);
  if (!net.isNsfsMount || net.nsType !== 'net' || !net.owner || net.inode !== r.netns.inode) throw new OperatorError(`netns ${netnsPath} changed while being checked: run inspect`);
  const frag: OciFragment = { linux: { namespaces: [] } };
  if (net.owner.isHostUserns) {
    // A host-owned netns: joining it from a new user namespace is exactly what breaks sysfs,
    // so the fragment does not invite it. The container must stay in the host user namespace.
    err(`userns-netns: note: ${netnsPath} is owned by the host user namespace: no "user" entry and no mappings\n`);
    frag.linux.namespaces.push({ type: 'network', path: netnsPath });
  } else {
    const usernsPath = usernsPathFor(r.mode, r.userns.path, netnsPath, net.owner.inode);
    if (usernsPath.startsWith('/proc/')) err(`userns-netns: note: ${usernsPath} is valid only while that process lives\n`);
    const u = await inspectNamespace(usernsPath, { withMappings: true });
    const maps = u.owner?.mappings;
    if (u.inode !== net.owner.inode || !maps) throw new OperatorError(`user namespace at ${usernsPath} changed while reading it`);
    frag.linux.namespaces.push({ type: 'user', path: usernsPath }, { type: 'network', path: netnsPath });
    frag.linux.uidMappings = maps.uidMappings;
    frag.linux.gidMappings = maps.gidMappings;
  }
  out(`${JSON.stringify(frag, null, 2)}\n`);
  return 0;
}
