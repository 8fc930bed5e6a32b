// Loads koffi's native addon embedded in the single-file bundle. The addon is written once to
// a content-hash-named file in a root-only cache directory and loaded from there: native code
// is never loaded from a directory anyone else can write to, and a symlink planted at the
// cache path is never followed.
import { constants, closeSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export const DEFAULT_CACHE_DIR = '/var/cache/userns-netns';

function fail(msg: string): never {
  throw new Error(`native addon cache: ${msg}`);
}

/** A directory is trusted when it is a real directory, owned by us (root), writable by no one else. */
function checkTrustedDir(dir: string): void {
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) fail(`${dir} is a symlink`);
  if (!st.isDirectory()) fail(`${dir} is not a directory`);
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid && st.uid !== 0) fail(`${dir} is owned by uid ${st.uid}`);
  if ((st.mode & 0o022) !== 0) fail(`${dir} is group/other writable`);
}

function ensureCacheDir(dir: string): void {
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

function isTrustedFile(path: string, size: number): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code === 'ELOOP') fail(`${path} is a symlink`);
    throw err;
  }
  try {
    const st = fstatSync(fd);
    const uid = process.getuid?.() ?? 0;
    if (!st.isFile() || (st.uid !== uid && st.uid !== 0) || (st.mode & 0o022) !== 0) fail(`${path} is not a root-only regular file`);
    return st.size === size;
  } finally {
    closeSync(fd);
  }
}

function writeAddon(dir: string, name: string, bytes: Buffer): void {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
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
  renameSync(tmp, join(dir, name)); // atomic: concurrent first runs each write their own temp file
}

export function loadEmbeddedAddon(gzBase64: string, sha256: string, size: number): unknown {
  const dir = process.env.USERNS_NETNS_CACHE_DIR || DEFAULT_CACHE_DIR;
  const name = `koffi-${sha256.slice(0, 32)}.node`;
  const path = join(dir, name);
  ensureCacheDir(dir);
  if (!isTrustedFile(path, size)) writeAddon(dir, name, gunzipSync(Buffer.from(gzBase64, 'base64')));
  const mod = { exports: {} as unknown };
  process.dlopen(mod, path);
  return mod.exports;
}
