// The one trusted-filesystem layer: private directories, no-follow reads and atomic writes, for
// everything the plugin keeps on disk as root (records, the id table, locks' directories, the
// delegates' VERSION cache) and everything it loads at run time (koffi's addon, V8's code
// cache: src/sys/launcher.ts runs this before our code is even compiled). One set of rules,
// each for a reason:
//
// - A directory we use is a real directory (opened O_DIRECTORY|O_NOFOLLOW, checked by fstat of
//   that fd, so a swap between check and use changes nothing), owned by root (or our euid), and
//   writable by no group or other user: whoever can write a directory can plant or replace the
//   names in it, and we would write root's state or load native code through their files.
// - Its existing ancestors must be root's (or ours) and not writable by others either, unless
//   sticky (like /tmp: others there cannot rename or remove our entries): otherwise someone can
//   rename a component away and put their own tree in its place. A symlinked ancestor is fine
//   (Debian's /var/run -> /run): the link sits in a directory only root can write.
// - A directory we create is made 0700 (fchmod after mkdir: the umask may have taken bits, never
//   added them, but make it exact), and its parent is fsynced: a record written into a
//   directory that vanishes in a power cut is as lost as an unsynced one.
// - A file we read is opened O_NOFOLLOW (a planted symlink is refused, never followed) and
//   O_NONBLOCK (a FIFO planted there cannot hang us in open()), then fstat'ed: a regular file,
//   root's (or ours), not group/other-writable.
// - A file we write is written to a fresh temp file (O_CREAT|O_EXCL|O_NOFOLLOW, 0600) in a
//   checked directory through that directory's fd, fsynced, renamed over the name, and the
//   directory fsynced: after a crash at any instant the name holds the old or the new content,
//   never a mix or nothing (multus#948 and cni#1055 lost records to power cuts). A symlink or
//   any non-regular file at the name is refused: in a root-only directory it means tampering.
//
// Node has no openat(): operations inside a directory go through `/proc/self/fd/N/<name>` of a
// directory fd we checked, which gives the same guarantee (the name is resolved in the
// directory we checked, even if its path is swapped meanwhile), plus the fd to fsync.
//
// Errors: CniError code 102 (StateFailure) when something is not trustworthy, always naming the
// path and what is wrong with it; code 5 (IoFailure) when the system call itself failed.
// Named imports: `import fs from 'node:fs'` (or `* as fs`) makes the bundle copy fs's ~100
// properties (esbuild's __toESM, ~0.2 ms) once per importing module, on every call.
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { CniError, ErrorCode, show } from '../cni/errors';
import { randomBytes } from './random';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;
// Node's fs.constants has no O_CLOEXEC (libuv sets it anyway); spelled out so it stays true:
// none of these fds may reach a delegate or a holder process.
const O_CLOEXEC = 0o2000000;
const S_ISVTX = 0o1000;
const GROUP_OR_OTHER_WRITE = 0o022;
const NAME_MAX = 255;
const ROOT = 0;

/** Suffix of in-flight temp files; listings skip names that start with '.' and end with it. */
export const TEMP_SUFFIX = '.tmp';

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function ioError(what: string, file: string, err: unknown): CniError {
  return new CniError(ErrorCode.IoFailure, `${what} ${file}: ${errCode(err) ?? String(err)}`, { cause: err });
}

function untrusted(msg: string, cause?: unknown): CniError {
  return new CniError(ErrorCode.StateFailure, msg, cause === undefined ? {} : { cause });
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

function euid(): number {
  return process.geteuid?.() ?? ROOT;
}

/** Why `st` (of `what`) may not be trusted for its owner, or undefined. */
function ownerProblem(what: string, st: Stats): string | undefined {
  if (st.uid === ROOT || st.uid === euid()) return undefined;
  return `${what} is owned by uid ${st.uid}, not root`;
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** A single path component: no separators, no NUL, not '.' or '..', not too long. */
export function assertPlainName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || Buffer.byteLength(name) > NAME_MAX) {
    throw untrusted(`unsafe file name ${show(name)} in the state directory`);
  }
}

/** Absolute, and no '.', '..' or '//' in it: the path checked is the path used. */
function assertNormalAbsolute(dir: string): void {
  const parts = dir.split('/');
  if (!isAbsolute(dir) || parts.some((p, i) => p === '.' || p === '..' || (p === '' && i > 0 && i < parts.length - 1))) {
    throw untrusted(`directory ${show(dir)} must be an absolute path without '.', '..' or '//'`);
  }
}

/**
 * Opens `dir` itself (never a symlink to it) and checks it through the fd: a directory, root's,
 * not group/other-writable. The caller closes the fd.
 */
export function openTrustedDir(dir: string): number {
  let fd: number;
  try {
    fd = openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  } catch (err) {
    const code = errCode(err);
    // O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR or ELOOP: say which it was.
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      const link = lstatOrUndefined(dir)?.isSymbolicLink() ?? code === 'ELOOP';
      throw untrusted(link ? `directory ${dir} is a symbolic link; refusing to follow it` : `${dir} is not a directory`, err);
    }
    throw ioError('cannot open directory', dir, err);
  }
  try {
    const st = fstatSync(fd);
    const owner = ownerProblem(`directory ${dir}`, st);
    if (owner) throw untrusted(owner);
    if ((st.mode & GROUP_OR_OTHER_WRITE) !== 0) throw untrusted(`directory ${dir} is writable by group or others (mode ${octal(st.mode)})`);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

/** A pre-existing ancestor: a directory (symlinks to one resolved), root's, others kept out or sticky. */
function checkAncestor(dir: string, st = statOf(dir)): void {
  if (!st.isDirectory()) throw untrusted(`${dir} is not a directory`);
  const owner = ownerProblem(`directory ${dir}`, st);
  if (owner) throw untrusted(owner);
  if ((st.mode & GROUP_OR_OTHER_WRITE) !== 0 && (st.mode & S_ISVTX) === 0) {
    throw untrusted(`directory ${dir} is writable by group or others (mode ${octal(st.mode)}) and not sticky`);
  }
}

/** stat (or, `noFollow`, lstat) of `p`; undefined when it does not exist. */
function statIfExists(p: string, noFollow: boolean): Stats | undefined {
  try {
    return noFollow ? lstatSync(p, { throwIfNoEntry: false }) : statSync(p, { throwIfNoEntry: false });
  } catch (err) {
    throw ioError('cannot stat', p, err);
  }
}

function statOf(p: string): Stats {
  try {
    return statSync(p);
  } catch (err) {
    throw ioError('cannot stat', p, err);
  }
}

/** fsync of a directory we already trust (symlinked ancestors allowed): makes new entries durable. */
function syncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } catch (err) {
    throw ioError('cannot open directory', dir, err);
  }
  try {
    fsyncSync(fd);
  } catch (err) {
    throw ioError('cannot sync directory', dir, err);
  } finally {
    closeSync(fd);
  }
}

/**
 * mkdir -p: every missing component is made 0700 and made durable; every existing ancestor must
 * pass checkAncestor, the directory itself openTrustedDir. An existing directory is not re-moded
 * (0755 made by the admin is fine: what matters is that no one else can write it).
 */
export function ensurePrivateDir(dir: string): void {
  assertNormalAbsolute(dir);
  const parts = dir.split('/').filter(Boolean);
  checkAncestor('/');
  let cur = '';
  for (let i = 0; i < parts.length; i++) {
    cur += `/${parts[i]}`;
    const last = i === parts.length - 1;
    // stat first: the usual case is that everything exists, and a failed mkdir costs an exception.
    // (The directory itself by lstat: a symlink there is refused by openTrustedDir, never followed.)
    const st = statIfExists(cur, last);
    if (st) {
      if (last) closeSync(openTrustedDir(cur));
      else checkAncestor(cur, st);
      continue;
    }
    let created = false;
    try {
      mkdirSync(cur, 0o700);
      created = true;
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw ioError('cannot create directory', cur, err);
    }
    if (!created) {
      if (last) closeSync(openTrustedDir(cur));
      else checkAncestor(cur); // made by someone else in between
      continue;
    }
    const fd = openTrustedDir(cur);
    try {
      fchmodSync(fd, 0o700);
    } finally {
      closeSync(fd);
    }
    syncDir(dirname(cur));
  }
}

/** Like ensurePrivateDir but never creates: false when `dir` does not exist. */
export function checkPrivateDir(dir: string): boolean {
  assertNormalAbsolute(dir);
  try {
    lstatSync(dir);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return false;
    throw ioError('cannot stat', dir, err);
  }
  let cur = '';
  checkAncestor('/');
  for (const part of dir.split('/').filter(Boolean).slice(0, -1)) checkAncestor((cur += `/${part}`));
  closeSync(openTrustedDir(dir));
  return true;
}

/** Opens a trusted regular file for reading; undefined when it does not exist. */
function openTrustedFile(file: string): { fd: number; size: number } | undefined {
  let fd: number;
  try {
    fd = openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw untrusted(`${file} is a symbolic link; refusing to follow it`, err);
    // A socket (or a device node with no driver) fails in open() itself, before the fstat below
    // could name it: it is as unusable as a FIFO, not an I/O failure to give up on.
    const kind = code === 'ENXIO' || code === 'ENODEV' ? irregularKindAt(file) : undefined;
    if (kind) throw untrusted(`${file} is ${kind}, not a regular file`, err);
    throw ioError('cannot open', file, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw untrusted(`${file} is ${kindOf(st)}, not a regular file`);
    const owner = ownerProblem(file, st);
    if (owner) throw untrusted(owner);
    if ((st.mode & GROUP_OR_OTHER_WRITE) !== 0) throw untrusted(`${file} is writable by group or others (mode ${octal(st.mode)})`);
    return { fd, size: st.size };
  } catch (err) {
    closeSync(fd);
    throw err instanceof CniError ? err : ioError('cannot stat', file, err);
  }
}

/** What is at `file` when it is not a regular file (lstat: never through a link), else undefined. */
function irregularKindAt(file: string): string | undefined {
  try {
    const st = lstatSync(file);
    return st.isFile() ? undefined : kindOf(st);
  } catch {
    return undefined;
  }
}

/** The bytes of a trusted regular file (never through a symlink); undefined when it does not exist. */
export function readTrustedFile(file: string): Buffer | undefined {
  const f = openTrustedFile(file);
  if (!f) return undefined;
  try {
    return readFileSync(f.fd);
  } catch (err) {
    throw ioError('cannot read', file, err);
  } finally {
    closeSync(f.fd);
  }
}

/** The size of a trusted regular file; undefined when it does not exist. */
export function trustedFileSize(file: string): number | undefined {
  const f = openTrustedFile(file);
  if (!f) return undefined;
  closeSync(f.fd);
  return f.size;
}

function at(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`;
}

/**
 * The name writeFileAtomic writes `name` under before renaming it into place. The pid and a
 * random part: a writer killed mid-write leaves its temp file behind, and pids get reused.
 */
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
 * Replaces `dir/name` with `data` (0600) durably and atomically. `tempDir` (same file system):
 * the temp file is made there, so that finding a writer's leftovers means listing a few
 * in-flight files, not a directory of thousands of records.
 */
export function writeFileAtomic(dir: string, name: string, data: string | Uint8Array, tempDir?: string): void {
  assertPlainName(name);
  const tmpName = tempNameFor(name);
  assertPlainName(tmpName);
  const dirFd = openTrustedDir(dir);
  let tmpFd = dirFd;
  try {
    if (tempDir !== undefined) tmpFd = openTrustedDir(tempDir);
    const target = at(dirFd, name);
    try {
      const st = lstatSync(target);
      if (!st.isFile()) throw untrusted(`${join(dir, name)} is ${kindOf(st)}; refusing to replace it`);
    } catch (err) {
      if (err instanceof CniError) throw err;
      if (errCode(err) !== 'ENOENT') throw ioError('cannot stat', join(dir, name), err);
    }

    const tmp = at(tmpFd, tmpName);
    let fd: number;
    try {
      fd = openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600);
    } catch (err) {
      throw ioError('cannot create', join(tempDir ?? dir, tmpName), err);
    }
    let renamed = false;
    try {
      try {
        fchmodSync(fd, 0o600); // the umask may have taken bits; make the mode exact
        writeFileSync(fd, data); // loops over short writes
        fsyncSync(fd); // the content is on disk before the name points at it
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, target);
      renamed = true;
      fsyncSync(dirFd); // makes the rename itself durable
    } catch (err) {
      if (!renamed) {
        try {
          unlinkSync(tmp);
        } catch {
          /* best effort: temp sweeps catch leftovers */
        }
      }
      throw err instanceof CniError ? err : ioError('cannot write', join(dir, name), err);
    }
  } finally {
    closeSync(dirFd);
    if (tmpFd !== dirFd) closeSync(tmpFd);
  }
}

/** Removes `dir/name` durably (a symlink there is unlinked, never followed). false when already gone. */
export function removeFileDurable(dir: string, name: string): boolean {
  assertPlainName(name);
  const dirFd = openTrustedDir(dir);
  try {
    try {
      unlinkSync(at(dirFd, name)); // unlink never follows the last component
    } catch (err) {
      if (errCode(err) === 'ENOENT') return false;
      throw ioError('cannot remove', join(dir, name), err);
    }
    try {
      fsyncSync(dirFd);
    } catch (err) {
      throw ioError('cannot sync directory', dir, err);
    }
    return true;
  } finally {
    closeSync(dirFd);
  }
}
