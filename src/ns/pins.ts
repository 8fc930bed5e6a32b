// Pin files: reserve (O_EXCL), bind-mount a held namespace fd onto them, unpin.
// Nothing here follows a symlink at a pin path.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CniError, ErrorCode, show } from '../cni/errors';
import { SysError, errnoName } from '../sys/libc';
import { EINVAL, ENOENT } from '../sys/errno';
import { mount, umount2Raw, MS_BIND, MS_REC, MS_SHARED, MNT_DETACH, UMOUNT_NOFOLLOW, nsIoctlRaw, NS_GET_NSTYPE, CLONE_NEWNET } from './syscalls';

const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

function fail(msg: string, cause?: unknown): CniError {
  return new CniError(ErrorCode.NamespaceFailure, msg, cause === undefined ? {} : { cause });
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** An absolute, normalised path with a non-empty last component. */
export function checkPinPath(p: unknown, what: string): string {
  if (typeof p !== 'string' || !path.isAbsolute(p) || p.includes('\0')) {
    throw fail(`${what} must be an absolute path, got ${show(p)}`);
  }
  const n = path.normalize(p);
  if (n !== p || p.endsWith('/') || path.basename(p) === '' || path.basename(p) === '..') {
    throw fail(`${what} must be a normalised absolute file path, got ${show(p)}`);
  }
  return p;
}

/**
 * Create the pin directory if missing and make it a shared mount of itself, as `ip netns add`
 * does for /run/netns, so pins show up in mount namespaces made later.
 */
export function ensurePinDir(dir: string): void {
  try {
    mkdirParents(dir);
  } catch (e) {
    if (errCode(e) === 'EROFS') throw fail(`pin directory ${dir} cannot be created: read-only filesystem`, e);
    throw fail(`pin directory ${dir} cannot be created: ${(e as Error).message}`, e);
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    throw fail(`pin directory ${dir}: ${(e as Error).message}`, e);
  }
  if (!st.isDirectory()) throw fail(`pin directory ${dir} is not a directory (symlinks are not followed)`);
  try {
    mount('none', dir, null, MS_SHARED | MS_REC);
  } catch (e) {
    if (!(e instanceof SysError) || e.errno !== EINVAL /* not a mount point yet */) {
      throw fail(`pin directory ${dir} cannot be made a shared mount: ${(e as Error).message}`, e);
    }
    try {
      mount(dir, dir, 'none', MS_BIND | MS_REC);
      mount('none', dir, null, MS_SHARED | MS_REC);
    } catch (e2) {
      throw fail(`pin directory ${dir} cannot be made a shared bind mount of itself: ${(e2 as Error).message}`, e2);
    }
  }
}

/**
 * `mkdir -p`, one component at a time: Node's recursive mkdirSync reports ENOENT where the kernel
 * said EROFS (a pin directory on a read-only filesystem), and the operator needs the real cause.
 */
function mkdirParents(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o755 });
  } catch (e) {
    if (errCode(e) === 'EEXIST') return;
    if (errCode(e) !== 'ENOENT' || path.dirname(dir) === dir) throw e;
    mkdirParents(path.dirname(dir));
    fs.mkdirSync(dir, { mode: 0o755 });
  }
}

/** A reserved pin: the empty file we created with O_EXCL, held open. */
export interface Reservation {
  path: string;
  fd: number;
  dev: number;
  ino: number;
  mounted: boolean;
}

/**
 * Reserve a pin path: an empty file we create only if nothing is there. With a `token`, the
 * file is first made under a name of its own (`.<name>.<token>.pin`) holding the token, then
 * hard-linked to `p` (link() never replaces an existing path) and the temporary name removed:
 * a caller that journalled the token before calling can tell our pin from anyone else's even
 * if it is killed at any instant in between (see fileHoldsToken).
 */
export function reservePin(p: string, what: string, token?: string, afterTempCreated?: () => void): Reservation {
  if (token === undefined) return openExclusive(p, what);
  if (!/^[0-9a-f]{8,64}$/.test(token)) throw fail(`pin token must be hex, got ${show(token)}`);
  const tmp = reservationTempPath(p, token);
  const t = openExclusive(tmp, `${what} (temporary name)`, token, afterTempCreated);
  try {
    fs.linkSync(tmp, p);
  } catch (e) {
    releaseReservation(t);
    if (errCode(e) === 'EEXIST') throw new CniError(ErrorCode.PinExists, `${what} ${p} already exists; it was left untouched`);
    throw fail(`${what} ${p} cannot be created: ${(e as Error).message}`, e);
  }
  // The fd still names the temporary dentry, which mount() cannot use once unlinked: hold
  // the file by its final name instead, checking it is the very file we made.
  let fd: number;
  try {
    fd = fs.openSync(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    const st = fs.fstatSync(fd);
    if (st.dev !== t.dev || st.ino !== t.ino) {
      fs.closeSync(fd);
      throw fail(`${what} ${p} changed under us right after it was created`);
    }
  } catch (e) {
    releaseReservation(t);
    throw e instanceof CniError ? e : fail(`${what} ${p} cannot be opened: ${(e as Error).message}`, e);
  }
  closeReservation(t);
  fs.unlinkSync(tmp);
  return { path: p, fd, dev: t.dev, ino: t.ino, mounted: false };
}

/** Where reservePin keeps a pin file before it is linked at `p`. */
export function reservationTempPath(p: string, token: string): string {
  return path.join(path.dirname(p), `.${path.basename(p)}.${token}.pin`);
}

/**
 * Removes the temporary name reservePin may have left at `p` (killed before it was unlinked).
 * Its name carries the token, which was journalled before the file was made and is random:
 * a regular file by that exact name is ours whatever it holds - the token, or nothing yet when
 * the kill came between creating the file and writing it. Never follows a symlink.
 */
export function removeReservationTemp(p: string, token: string): void {
  const tmp = reservationTempPath(p, token);
  try {
    if (!fs.lstatSync(tmp).isFile()) return;
    fs.unlinkSync(tmp);
  } catch (e) {
    if (errCode(e) !== 'ENOENT') throw fail(`cannot remove the temporary pin ${tmp}: ${(e as Error).message}`, e);
  }
}

/**
 * The content of `p` if it is a plain file (not followed if a symlink, nothing mounted on it)
 * of `min`..`max` bytes, else undefined. Never blocks on a FIFO, never throws.
 */
function smallPlainFile(p: string, min: number, max: number): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size < min || st.size > max) return undefined;
    const buf = Buffer.alloc(st.size);
    return fs.readSync(fd, buf, 0, buf.length, 0) === buf.length ? buf.toString('latin1') : undefined;
  } catch {
    return undefined; // e.g. an nsfs mount on top: not a plain file of ours
  } finally {
    fs.closeSync(fd);
  }
}

/** Is `p` a regular file (not followed if a symlink) holding exactly `token`? */
export function fileHoldsToken(p: string, token: string): boolean {
  return smallPlainFile(p, token.length, token.length) === token;
}

/**
 * Is `p` a plain file such as reservePin makes with a token - another ADD's pin in the making
 * (it is mounted over moments later), or the leftover of one killed in between?
 */
export function looksLikeReservation(p: string): boolean {
  return /^[0-9a-f]+$/.test(smallPlainFile(p, 8, 64) ?? '');
}

function openExclusive(p: string, what: string, content?: string, afterCreate?: () => void): Reservation {
  let fd: number;
  try {
    fd = fs.openSync(p, (content === undefined ? O_RDONLY : O_RDWR) | O_CREAT | O_EXCL | O_NOFOLLOW, 0o444);
  } catch (e) {
    const c = errCode(e);
    if (c === 'EEXIST') throw new CniError(ErrorCode.PinExists, `${what} ${p} already exists; it was left untouched`);
    if (c === 'EROFS') throw fail(`${what} ${p} cannot be created: pin directory ${path.dirname(p)} is on a read-only filesystem`, e);
    throw fail(`${what} ${p} cannot be created: ${(e as Error).message}`, e);
  }
  afterCreate?.(); // crash tests: the file exists, its content not yet
  if (content !== undefined) fs.writeSync(fd, content);
  const st = fs.fstatSync(fd);
  return { path: p, fd, dev: st.dev, ino: st.ino, mounted: false };
}

/** Bind-mount the namespace behind nsFd onto the reserved file, both named by fd. */
export function bindPin(r: Reservation, nsFd: number, expectedIno: number): void {
  try {
    mount(`/proc/self/fd/${nsFd}`, `/proc/self/fd/${r.fd}`, null, MS_BIND);
  } catch (e) {
    throw fail(`cannot bind-mount namespace onto ${r.path}: ${(e as Error).message}`, e);
  }
  r.mounted = true;
  const st = fs.lstatSync(r.path);
  if (st.ino !== expectedIno) {
    throw fail(`pin ${r.path} shows inode ${st.ino} after mounting, expected namespace inode ${expectedIno}`);
  }
}

/** Undo a reservation: unmount if we mounted, unlink only if it still is our file. Never throws. */
export function releaseReservation(r: Reservation): void {
  if (r.mounted) {
    umount2Raw(`/proc/self/fd/${r.fd}`, MNT_DETACH);
    r.mounted = false;
  }
  try {
    const st = fs.lstatSync(r.path);
    if (st.dev === r.dev && st.ino === r.ino) fs.unlinkSync(r.path);
  } catch {
    /* already gone */
  }
  closeReservation(r);
}

export function closeReservation(r: Reservation): void {
  if (r.fd >= 0) {
    try {
      fs.closeSync(r.fd);
    } catch {
      /* ignore */
    }
    r.fd = -1;
  }
}

/**
 * Remove a pin: lazy-unmount (repeatedly, if mounts are stacked) then unlink. Already gone is
 * success. Symlinks are never followed; a symlink or directory at `p` is refused untouched.
 */
export function unpin(p: string): void {
  checkPinPath(p, 'pin path');
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return;
    throw fail(`cannot unpin ${p}: ${(e as Error).message}`, e);
  }
  if (st.isSymbolicLink()) throw fail(`cannot unpin ${p}: it is a symlink (left untouched)`);
  if (st.isDirectory()) throw fail(`cannot unpin ${p}: it is a directory (left untouched)`);
  for (let i = 0; i < 16; i++) {
    const rc = umount2Raw(p, MNT_DETACH | UMOUNT_NOFOLLOW);
    if (rc === 0) continue;
    if (rc === -EINVAL || rc === -ENOENT) break; // not a mount point (any more), or gone
    throw fail(`cannot unmount pin ${p}: ${errnoName(-rc)}`);
  }
  try {
    fs.unlinkSync(p);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return;
    throw fail(`cannot remove pin ${p}: ${(e as Error).message}`, e);
  }
}

const PROC_NS = /^\/proc\/(self|thread-self|\d+)(\/task\/\d+)?\/ns\/[a-z_]+$/;

/**
 * Open a namespace file without following symlinks, except the kernel's own magic links
 * under /proc/<pid>/ns/. Returns -1 when the path does not exist, or is not something that
 * could be a namespace file (symlink elsewhere, directory, fifo, device...).
 */
export function openNsPath(p: string): number {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return -1;
  }
  const magic = st.isSymbolicLink() && PROC_NS.test(p);
  if (!magic && !st.isFile()) return -1;
  try {
    return fs.openSync(p, O_RDONLY | O_NONBLOCK | (magic ? 0 : O_NOFOLLOW));
  } catch {
    return -1;
  }
}

/**
 * Cheap synchronous check: is `p` a live network namespace file (a pin, or /proc/<pid>/ns/net)
 * and, if expectedInode is given, that very namespace? Never throws.
 */
export function isLiveNetnsPin(p: string, expectedInode?: number): boolean {
  if (typeof p !== 'string' || p === '') return false;
  const fd = openNsPath(p);
  if (fd < 0) return false;
  try {
    if (nsIoctlRaw(fd, NS_GET_NSTYPE) !== CLONE_NEWNET) return false;
    return expectedInode === undefined || fs.fstatSync(fd).ino === expectedInode;
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}
