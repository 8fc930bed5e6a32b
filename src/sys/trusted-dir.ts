// Root-only cache directories for what we load at run time (the native addon, V8's code
// cache): a directory is trusted when it is a real directory owned by us (root), writable by
// no one else, with trustworthy ancestors. Native code and code caches are never loaded from
// anywhere another user could write to, and symlinks are never followed.
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from './random';
import { dirname, join } from 'node:path';

export const DEFAULT_CACHE_DIR = '/var/cache/userns-netns';

export function cacheDir(): string {
  return process.env.USERNS_NETNS_CACHE_DIR || DEFAULT_CACHE_DIR;
}

function fail(msg: string): never {
  throw new Error(`cache: ${msg}`);
}

function checkTrustedDir(dir: string): void {
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) fail(`${dir} is a symlink`);
  if (!st.isDirectory()) fail(`${dir} is not a directory`);
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid && st.uid !== 0) fail(`${dir} is owned by uid ${st.uid}`);
  if ((st.mode & 0o022) !== 0) fail(`${dir} is group/other writable`);
}

export function ensureTrustedDir(dir: string): void {
  // Every ancestor must be trustworthy too, or someone could swap the directory under us.
  const ancestors: string[] = [];
  for (let d = dirname(dir); d !== '/' && d !== '.'; d = dirname(d)) ancestors.unshift(d);
  for (const a of ancestors) {
    try {
      checkTrustedDir(a);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(a, { mode: 0o755 });
    }
  }
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  checkTrustedDir(dir);
  if ((lstatSync(dir).mode & 0o077) !== 0) fail(`${dir} must be mode 0700`);
}

/** Opens a root-only regular file without following symlinks; undefined when absent. */
function openTrusted(path: string): { fd: number; size: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') fail(`${path} is a symlink`);
    throw err;
  }
  const st = fstatSync(fd);
  const uid = process.getuid?.() ?? 0;
  if (!st.isFile() || (st.uid !== uid && st.uid !== 0) || (st.mode & 0o022) !== 0) {
    closeSync(fd);
    fail(`${path} is not a root-only regular file`);
  }
  return { fd, size: st.size };
}

/** Reads a root-only regular file without following symlinks; undefined when absent. */
export function readTrustedFile(path: string): Buffer | undefined {
  const f = openTrusted(path);
  if (!f) return undefined;
  try {
    const buf = Buffer.allocUnsafe(f.size);
    let off = 0;
    while (off < f.size) {
      const n = readSync(f.fd, buf, off, f.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(f.fd);
  }
}

/** Is there a root-only regular file of this size at `path` (not following symlinks)? */
export function trustedFileHasSize(path: string, size: number): boolean {
  const f = openTrusted(path);
  if (!f) return false;
  closeSync(f.fd);
  return f.size === size;
}

/** Writes `name` in `dir` atomically (own temp file, fsync, rename): concurrent first runs are safe. */
export function writeTrustedFile(dir: string, name: string, bytes: Uint8Array): void {
  // Random part: a run killed mid-write leaves its temp file, and pids get reused.
  const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, join(dir, name));
}
