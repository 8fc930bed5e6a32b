// Who holds a netns pin of this data dir. Several attachments (one per network, or per ifname)
// can share one netns: the first ADD creates and pins it, the others join it (their records
// name the same pins: path, inode, token). The pins stay while any live record names them, and
// the last teardown removes them. Callers hold the pin's netns lock (netns-lock.ts), so the
// answer cannot change before they act on it. Records of other data dirs are invisible here.
//
// Which records name a pin is kept in a small index, so that a DEL costs the same with 5
// records in the data dir or 5000: <dataDir>/pin-holders/<hash of the pin path>/ holds one
// empty file per holder, named like its record. A holder's entry is made (under the netns
// lock) before its record first names the pin and removed by its teardown; an entry whose
// record file is gone (an ADD killed in between) is dropped when next read. Pins survive no
// reboot, so the index needs no fsync: a plugin killed at any instant leaves it on disk.
// Its directories are checked like the records' (never through a symlink, root's alone): an
// index that fails the check is not written to nor pruned, and who holds a pin is then read
// from every record of the data dir - slower, never wrong, and DEL still finishes.
import { closeSync, constants, mkdirSync, openSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { AttachmentRecord, NamespaceRef } from '../generated/types';
import { inspectNamespace } from '../ns';
import { currentBootId } from '../state/boot-id';
import { isCorrupt, type CorruptRecord } from '../state/record-store';
import { fileNameToKey, keyToFileName, type AttachmentKey } from '../state/names';
import { pathHash } from '../sys/path-hash';
import { checkPrivateDir, ensurePrivateDir } from '../state/atomic-file';
import { CniError, ErrorCode } from '../cni/errors';
import type { AttachmentContext } from './context';
import { salvageRecord } from './salvage';

const sameKey = (a: AttachmentKey, b: AttachmentKey) => a.network === b.network && a.containerId === b.containerId && a.ifname === b.ifname;
const show = (k: AttachmentKey) => `${k.network}/${k.containerId}/${k.ifname}`;
const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

// (libuv opens every fd close-on-exec.)
const { O_WRONLY, O_CREAT, O_NOFOLLOW } = constants;

const holdersRoot = (ctx: AttachmentContext) => join(ctx.store.dataDir, 'pin-holders');

function holdersDir(ctx: AttachmentContext, pinPath: string): string {
  return join(holdersRoot(ctx), pathHash(pinPath));
}

/** Both levels of the index are real directories of root's (false: not there). Throws 102 or 5 when one is not. */
function usableIndexDir(ctx: AttachmentContext, dir: string): boolean {
  return checkPrivateDir(holdersRoot(ctx)) && checkPrivateDir(dir);
}

function mkdirIfMissing(dir: string): void {
  try {
    mkdirSync(dir, 0o700);
  } catch (err) {
    if (code(err) !== 'EEXIST') throw new CniError(ErrorCode.IoFailure, `cannot create directory ${dir}: ${code(err) ?? String(err)}`, { cause: err });
  }
}

/** The pins (netns and userns) a record holds, by path. */
function heldPinPaths(rec: Pick<AttachmentRecord, 'netns' | 'userns'>): string[] {
  return [rec.netns, rec.userns].filter((r) => r.pin !== 'none' && r.path !== '').map((r) => r.path);
}

/** Enters this attachment as a holder of the record's pins. Before the record names them. */
export function notePinHolder(ctx: AttachmentContext, rec: Pick<AttachmentRecord, 'netns' | 'userns'>): void {
  for (const p of heldPinPaths(rec)) {
    const dir = holdersDir(ctx, p);
    ensurePrivateDir(ctx.store.dataDir); // there already but in tests: the lock of the record's key lives in it
    mkdirIfMissing(holdersRoot(ctx));
    mkdirIfMissing(dir);
    usableIndexDir(ctx, dir);
    const entry = join(dir, keyToFileName(ctx.key));
    try {
      closeSync(openSync(entry, O_WRONLY | O_CREAT | O_NOFOLLOW, 0o600));
    } catch (err) {
      if (code(err) === 'ELOOP') throw new CniError(ErrorCode.StateFailure, `pin holder entry ${entry} is a symbolic link; refusing to follow it`, { cause: err });
      throw new CniError(ErrorCode.IoFailure, `cannot create pin holder entry ${entry}: ${code(err) ?? String(err)}`, { cause: err });
    }
  }
}

/** Removes this attachment from the holders of `paths` (and an index dir left empty). Never throws. */
export function dropPinHolder(ctx: AttachmentContext, paths: string[], key: AttachmentKey = ctx.key): void {
  for (const p of paths) {
    const dir = holdersDir(ctx, p);
    try {
      if (!usableIndexDir(ctx, dir)) continue;
      unlinkSync(join(dir, keyToFileName(key)));
    } catch {
      /* not entered, gone, or an index not to touch */
    }
    try {
      rmdirSync(dir);
    } catch {
      /* other holders, or gone */
    }
  }
}

/** Leaves this record's pins: called by the teardown that removes the record. */
export function dropPinHolderOf(ctx: AttachmentContext, rec: Pick<AttachmentRecord, 'netns' | 'userns'>): void {
  dropPinHolder(ctx, heldPinPaths(rec));
}

/**
 * The other records of the data dir entered as holders of `path`, read. Only those: the rest
 * of the data dir is never listed. An entry without a record file is stale and dropped.
 */
function recordsNaming(ctx: AttachmentContext, path: string): Array<{ key: AttachmentKey; record: AttachmentRecord | CorruptRecord }> {
  const dir = holdersDir(ctx, path);
  let names: string[];
  try {
    if (!usableIndexDir(ctx, dir)) return [];
    names = readdirSync(dir);
  } catch (err) {
    ctx.log?.error('pin-holders-unusable', { dir, error: (err as Error).message });
    return ctx.store.list().filter(({ key }) => !sameKey(key, ctx.key));
  }
  const out: Array<{ key: AttachmentKey; record: AttachmentRecord | CorruptRecord }> = [];
  for (const name of names) {
    const key = fileNameToKey(name);
    if (!key || sameKey(key, ctx.key)) continue;
    const record = ctx.store.get(key);
    if (record === undefined) dropPinHolder(ctx, [path], key);
    else out.push({ key, record });
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
