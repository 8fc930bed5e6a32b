// Who holds a netns pin of this data dir. Several attachments (one per network, or per ifname)
// can share one netns: the first ADD creates and pins it, the others join it (their records
// name the same pins: path, inode, token). The pins stay while any live record names them, and
// the last teardown removes them. Callers hold the pin's netns lock (netns-lock.ts), so the
// answer cannot change before they act on it. Records of other data dirs are invisible here.
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { AttachmentRecord, NamespaceRef } from '../generated/types';
import { inspectNamespace } from '../ns';
import { isTempName, readFileNoFollow } from '../state/atomic-file';
import { currentBootId } from '../state/boot-id';
import { isCorrupt, type CorruptRecord } from '../state/record-store';
import { fileNameToKey, type AttachmentKey } from '../state/names';
import type { AttachmentContext } from './context';
import { salvageRecord } from './salvage';

const sameKey = (a: AttachmentKey, b: AttachmentKey) => a.network === b.network && a.containerId === b.containerId && a.ifname === b.ifname;
const show = (k: AttachmentKey) => `${k.network}/${k.containerId}/${k.ifname}`;

/**
 * The other records of the data dir whose text names `path` (as JSON spells it), parsed.
 * Every file is read, but only those can name the pin - parsed or salvaged - so a teardown in
 * a data dir of hundreds of attachments does not parse and validate them all.
 */
function recordsNaming(ctx: AttachmentContext, path: string): Array<{ key: AttachmentKey; record: AttachmentRecord | CorruptRecord }> {
  let names: string[];
  try {
    names = readdirSync(ctx.store.recordsDir);
  } catch {
    return [];
  }
  const needle = JSON.stringify(path);
  const out: Array<{ key: AttachmentKey; record: AttachmentRecord | CorruptRecord }> = [];
  for (const name of names) {
    const key = isTempName(name) ? undefined : fileNameToKey(name);
    if (!key || sameKey(key, ctx.key)) continue;
    try {
      if (!readFileNoFollow(join(ctx.store.recordsDir, name))?.includes(needle)) continue;
    } catch {
      // not a plain file: the store reads it as a damaged record
    }
    const record = ctx.store.get(key);
    if (record !== undefined) out.push({ key, record });
  }
  return out;
}

/**
 * The other attachments whose records still name the pin `ref` (same path, same inode,
 * this boot, as a pin they hold). A damaged record counts when its text still names it: it
 * keeps the pins until its own DEL salvages them, rather than losing them under it.
 */
export function otherPinHolders(ctx: AttachmentContext, ref: NamespaceRef, type: 'net' | 'user'): string[] {
  if (ref.inode === undefined) return [];
  const boot = currentBootId();
  const out: string[] = [];
  for (const { key, record } of recordsNaming(ctx, ref.path)) {
    if (isCorrupt(record)) {
      const s = salvageRecord(record.file);
      if ((s.bootId === undefined || s.bootId === boot) && s.pins.some(([r, t]) => t === type && r.path === ref.path && r.inode === ref.inode)) out.push(`${show(key)} (damaged record)`);
      continue;
    }
    const theirs = type === 'net' ? record.netns : record.userns;
    if (record.bootId === boot && theirs.pin !== 'none' && theirs.path === ref.path && theirs.inode === ref.inode) out.push(show(key));
  }
  return out;
}

/** A record of this data dir holding the pins of the live netns `path` (inode `inode`, owned by `ownerInode`). */
export function pinCreator(ctx: AttachmentContext, path: string, inode: number, ownerInode: number): { key: AttachmentKey; record: AttachmentRecord } | undefined {
  const boot = currentBootId();
  for (const { key, record } of recordsNaming(ctx, path)) {
    if (isCorrupt(record) || record.bootId !== boot) continue;
    const { netns, userns } = record;
    if (netns.pin === 'none' || userns.pin === 'none' || userns.path === '') continue;
    if (netns.path === path && netns.inode === inode && userns.inode === ownerInode) return { key, record };
  }
  return undefined;
}

/**
 * Where the owner user namespace of the netns at `netnsPath` is pinned: <usernsPinDir>/<the
 * netns file's name>, as create mode pins its own. A netns known only as a process's
 * /proc/<pid>/ns/net (ctr run --cni) has no name of its own: its path spells one
 * (proc-<pid>-ns-net), unique while that process lives.
 */
export function usernsPinPathFor(netnsPath: string, usernsPinDir: string): string {
  const name = netnsPath.startsWith('/proc/') ? `proc-${netnsPath.slice('/proc/'.length).replace(/\//g, '-')}` : basename(netnsPath);
  return join(usernsPinDir, name);
}

/**
 * Does the netns at `path` carry the marks of this plugin - its owner user namespace pinned
 * beside it at usernsPinPathFor(path)? Then it is some attachment's pin pair (create mode), or
 * the owner pin of an adopted netns, and one that no record of this data dir holds unless the
 * caller finds one: adopting it would let another record's DEL remove it under us, or leave it
 * pinned forever.
 */
export function ourPinPairAt(path: string, ownerInode: number, usernsPinDir: string): string | undefined {
  const usernsPin = usernsPinPathFor(path, usernsPinDir);
  const u = inspectNamespace(usernsPin);
  return u.isNsfsMount && u.nsType === 'user' && u.inode === ownerInode ? usernsPin : undefined;
}

/**
 * A record of this data dir (this boot) holding the user namespace pin `usernsPin` of inode
 * `inode`: the adopt-mode record that pinned the owner of a runtime's netns, or one that
 * shares that pin. Another adoption of the same netns joins it.
 */
export function usernsPinHolder(ctx: AttachmentContext, usernsPin: string, inode: number): { key: AttachmentKey; record: AttachmentRecord } | undefined {
  const boot = currentBootId();
  for (const { key, record } of recordsNaming(ctx, usernsPin)) {
    if (isCorrupt(record) || record.bootId !== boot) continue;
    const u = record.userns;
    if (u.pin !== 'none' && u.path === usernsPin && u.inode === inode) return { key, record };
  }
  return undefined;
}
