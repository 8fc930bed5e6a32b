// One verification of a record against the kernel, for every command that trusts a record:
// CHECK, `inspect`, `list`, `oci` and `exec`. Are the namespaces it names still there, the
// same ones (inode), is the netns still owned by the recorded user namespace, is it this
// boot's and finished? Read-only and synchronous: a person may run it at any time, beside a
// running plugin. Each problem is one sentence naming the path and the inodes.
import type { AttachmentRecord, LiveCheck, NsLive } from '../generated/types';
import { inspectNamespace } from '../ns';
import { currentBootId } from '../state/boot-id';

// The shapes are part of `inspect --json`: they come from src/schemas/operator-output.schema.json.
export type { LiveCheck as Verification, NsLive };

function checkNs(path: string, recorded: number | undefined, type: 'net' | 'user'): NsLive & { ownerInode: number | null } {
  const i = path ? inspectNamespace(path) : { exists: false, isNsfsMount: false, nsType: undefined, inode: undefined, owner: undefined };
  const isNamespace = i.isNsfsMount && i.nsType === type;
  return {
    path,
    present: i.exists,
    isNamespace,
    inode: isNamespace ? (i.inode ?? null) : null,
    recordedInode: recorded ?? null,
    inodeMatches: isNamespace && recorded !== undefined && i.inode === recorded,
    ownerInode: isNamespace ? (i.owner?.inode ?? null) : null,
  };
}

/** The record checked against the live kernel: `live` exactly when `problems` is empty. */
export function verify(r: AttachmentRecord): LiveCheck {
  const problems: string[] = [];
  const sameBoot = r.bootId === currentBootId();
  if (!sameBoot) problems.push('recorded in an earlier boot: its namespaces are gone');
  const { ownerInode, ...netns } = checkNs(r.netns.path, r.netns.inode, 'net');
  if (!netns.present) problems.push(`netns ${r.netns.path} is missing`);
  else if (!netns.isNamespace) problems.push(`${r.netns.path} is not a network namespace (stale pin?)`);
  else if (!netns.inodeMatches) problems.push(`netns ${r.netns.path} is inode ${netns.inode}, recorded ${netns.recordedInode ?? 'none'}`);
  let userns: NsLive | null = null;
  if (r.userns.pin !== 'none') {
    // create mode, pins joined from another record, an adopted netns's owner pin
    const u = checkNs(r.userns.path, r.userns.inode, 'user');
    userns = { path: u.path, present: u.present, isNamespace: u.isNamespace, inode: u.inode, recordedInode: u.recordedInode, inodeMatches: u.inodeMatches };
    if (!u.present) problems.push(`userns pin ${r.userns.path || '(none recorded)'} is missing`);
    else if (!u.isNamespace) problems.push(`${r.userns.path} is not a user namespace (stale pin?)`);
    else if (!u.inodeMatches) problems.push(`userns ${r.userns.path} is inode ${u.inode}, recorded ${u.recordedInode ?? 'none'}`);
  }
  const ownerMatches = ownerInode !== null && r.userns.inode !== undefined && ownerInode === r.userns.inode;
  if (ownerInode !== null && !ownerMatches) problems.push(`netns ${r.netns.path} is owned by user namespace ${ownerInode}, recorded ${r.userns.inode ?? 'none'}`);
  if (r.phase !== 'ready') problems.push(`phase is "${r.phase}" (an ADD or DEL did not finish)`);
  return { live: problems.length === 0, sameBoot, netns, userns, netnsOwnerInode: ownerInode, ownerMatches, problems };
}
