// Durable, symlink-proof file primitives for the state layer.
//
// Why so careful: a record that vanishes in a power cut leaks veths and IPAM reservations
// forever (multus#948, cni#1055 lost theirs), and a plugin running as root that follows a
// planted symlink overwrites whatever the link points at. So: temp file + fsync + rename +
// fsync of the directory, and never follow a symlink in a name we open or create.
//
// Directory operations go through an fd opened with O_DIRECTORY|O_NOFOLLOW and the
// `/proc/self/fd/N/<name>` form of the path: Node has no openat(), and this gives the same
// guarantee (the file is created in the directory we checked, even if the path is swapped
// meanwhile), plus the fd we need anyway to fsync the directory.
import { randomBytes } from '../sys/random';
import fs from 'node:fs';
import path from 'node:path';
import { CniError, ErrorCode, show } from '../cni/errors';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = fs.constants;

/** Suffix of in-flight temp files; listings skip names that start with '.' and end with it. */
export const TEMP_SUFFIX = '.tmp';
const NAME_MAX = 255;

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function ioError(what: string, file: string, err: unknown): CniError {
  return new CniError(ErrorCode.IoFailure, `${what} ${file}: ${errCode(err) ?? String(err)}`, { cause: err });
}

function unsafe(msg: string, cause?: unknown): CniError {
  return new CniError(ErrorCode.StateFailure, msg, cause === undefined ? {} : { cause });
}

/** A single path component: no separators, no NUL, not '.' or '..', not too long. */
export function assertPlainName(name: string): void {
  if (
    name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') ||
    Buffer.byteLength(name) > NAME_MAX
  ) {
    throw unsafe(`unsafe file name ${show(name)} in the state directory`);
  }
}

/** Opens `dir` itself (not a symlink to it) for fd-relative access and fsync. */
function openDirNoFollow(dir: string): number {
  try {
    return fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ELOOP') throw unsafe(`state directory ${dir} is a symbolic link; refusing to follow it`, err);
    if (code === 'ENOTDIR') throw unsafe(`state directory ${dir} is not a directory`, err);
    throw ioError('cannot open directory', dir, err);
  }
}

function at(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`;
}

/**
 * Replaces `dir/name` with `data` so that after a crash at any instant the file holds
 * either the old or the new content, never a mix or nothing. A symlink or any non-regular
 * file at the target is refused (rename would not follow it, but its presence means
 * someone tampered with a root-only directory).
 */
export function writeFileAtomic(dir: string, name: string, data: string | Buffer, tempDir?: string): void {
  assertPlainName(name);
  const tmpName = tempNameFor(name);
  assertPlainName(tmpName);
  const dirFd = openDirNoFollow(dir);
  // `tempDir` (same file system): the temp file is made there, so that finding a writer's
  // leftovers means listing a few in-flight files, not a directory of thousands of records.
  const tmpFd = tempDir === undefined ? dirFd : openDirNoFollow(tempDir);
  const tmpWhere = tempDir ?? dir;
  try {
    const target = at(dirFd, name);
    try {
      const st = fs.lstatSync(target);
      if (!st.isFile()) {
        throw unsafe(`${path.join(dir, name)} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; refusing to replace it`);
      }
    } catch (err) {
      if (err instanceof CniError) throw err;
      if (errCode(err) !== 'ENOENT') throw ioError('cannot stat', path.join(dir, name), err);
    }

    const tmp = at(tmpFd, tmpName);
    let fd: number;
    try {
      fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    } catch (err) {
      throw ioError('cannot create', path.join(tmpWhere, tmpName), err);
    }
    let renamed = false;
    try {
      try {
        fs.fchmodSync(fd, 0o600); // the umask may have taken bits; make the mode exact
        fs.writeFileSync(fd, data); // loops over short writes
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, target);
      renamed = true;
      fs.fsyncSync(dirFd); // makes the rename itself durable
    } catch (err) {
      if (!renamed) {
        try { fs.unlinkSync(tmp); } catch { /* best effort: sweepTempFiles catches leftovers */ }
      }
      throw err instanceof CniError ? err : ioError('cannot write', path.join(dir, name), err);
    }
  } finally {
    fs.closeSync(dirFd);
    if (tmpFd !== dirFd) fs.closeSync(tmpFd);
  }
}

/**
 * Reads a regular file without following a symlink in its last component.
 * Returns undefined when the file does not exist.
 */
export function readFileNoFollow(file: string): Buffer | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted at the path must not hang us in open().
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw unsafe(`${file} is a symbolic link; refusing to follow it`, err);
    throw ioError('cannot open', file, err);
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw unsafe(`${file} is not a regular file`);
    return fs.readFileSync(fd);
  } catch (err) {
    throw err instanceof CniError ? err : ioError('cannot read', file, err);
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes `dir/name` durably. Returns false when it was already gone. */
export function removeFileDurable(dir: string, name: string): boolean {
  assertPlainName(name);
  const dirFd = openDirNoFollow(dir);
  try {
    try {
      fs.unlinkSync(at(dirFd, name)); // unlink never follows the last component
    } catch (err) {
      if (errCode(err) === 'ENOENT') return false;
      throw ioError('cannot remove', path.join(dir, name), err);
    }
    try {
      fs.fsyncSync(dirFd);
    } catch (err) {
      throw ioError('cannot sync directory', dir, err);
    }
    return true;
  } finally {
    fs.closeSync(dirFd);
  }
}

/** The name writeFileAtomic writes `name` under before renaming it into place. */
function tempNameFor(name: string): string {
  return `.${name}.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
}

/**
 * True when `candidate` is a temp name of `name` exactly (the shape tempNameFor makes): a
 * prefix match would take `.a+b+eth0.json.x.json.<pid>...` for a temp file of `a+b+eth0.json`.
 */
export function isTempNameOf(name: string, candidate: string): boolean {
  if (!candidate.startsWith(`.${name}.`)) return false;
  return /^\d+\.[0-9a-f]{8}\.tmp$/.test(candidate.slice(name.length + 2));
}

/** True for the temp files writeFileAtomic creates. */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith(TEMP_SUFFIX);
}

/**
 * Removes temp files left by writers killed between create and rename. Only files older
 * than `olderThanMs` go: a live writer finishes within milliseconds.
 */
export function sweepTempFiles(dir: string, olderThanMs = 60_000): number {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return 0;
    throw ioError('cannot list', dir, err);
  }
  let removed = 0;
  const cutoff = Date.now() - olderThanMs;
  for (const name of names.filter(isTempName)) {
    try {
      const st = fs.lstatSync(path.join(dir, name));
      if (st.isFile() && st.mtimeMs < cutoff && removeFileDurable(dir, name)) removed++;
    } catch {
      // gone meanwhile, or unreadable: not worth failing a caller over
    }
  }
  return removed;
}

/** fsync of a trusted ancestor directory: symlinks allowed here (e.g. /var/run -> /run). */
function syncDir(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY);
  } catch (err) {
    throw ioError('cannot open directory', dir, err);
  }
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    throw ioError('cannot sync directory', dir, err);
  } finally {
    fs.closeSync(fd);
  }
}

/** Refuses a directory that is a symlink, not a directory, not ours, or writable by others. */
function checkOwnDirFd(dir: string, created: boolean): void {
  const fd = openDirNoFollow(dir);
  try {
    const st = fs.fstatSync(fd);
    const euid = process.geteuid?.() ?? 0;
    if (st.uid !== euid) throw unsafe(`state directory ${dir} is owned by uid ${st.uid}, not ${euid}`);
    if (created) {
      fs.fchmodSync(fd, 0o700);
    } else if ((st.mode & 0o022) !== 0) {
      throw unsafe(`state directory ${dir} is group- or other-writable (mode 0${(st.mode & 0o7777).toString(8)})`);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function assertNormalAbsolute(dir: string): void {
  const parts = dir.split('/');
  if (!path.isAbsolute(dir) || parts.some((p, i) => p === '.' || p === '..' || (p === '' && i > 0 && i < parts.length - 1))) {
    throw unsafe(`state directory ${show(dir)} must be an absolute path without '.', '..' or '//'`);
  }
}

/**
 * mkdir -p with mode 0700. Every component we create is checked and chmod'ed 0700; the
 * final directory, created or not, must be a real directory owned by us (root) and not
 * group/other-writable. Pre-existing ancestors are trusted as the admin made them
 * (e.g. /var/run is a symlink to /run on Debian).
 */
export function ensurePrivateDir(dir: string): void {
  assertNormalAbsolute(dir);
  const parts = dir.split('/').filter(Boolean);
  let cur = '';
  for (let i = 0; i < parts.length; i++) {
    cur += `/${parts[i]}`;
    let created = false;
    try {
      fs.mkdirSync(cur, 0o700);
      created = true;
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw ioError('cannot create directory', cur, err);
    }
    if (created || i === parts.length - 1) checkOwnDirFd(cur, created);
    // A new directory entry is only durable once its parent is synced; records written
    // into a directory that vanishes in a power cut are as lost as unsynced ones.
    if (created) syncDir(path.dirname(cur));
  }
}

/** Like ensurePrivateDir but never creates: false when `dir` does not exist. */
export function checkPrivateDir(dir: string): boolean {
  assertNormalAbsolute(dir);
  try {
    fs.lstatSync(dir);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return false;
    throw ioError('cannot stat', dir, err);
  }
  checkOwnDirFd(dir, false);
  return true;
}
