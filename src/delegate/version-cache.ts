// On-disk cache of delegates' VERSION answers: a probe costs a process start (~1-3 ms for
// a Go plugin, far more under load), the answer only changes when the binary does.
// One small JSON file per binary (file name = hash of its path), keyed by the binary's
// identity: path, dev, ino, size, mtime and ctime in ns (ctime cannot be set back by
// `touch`/`cp -p`, so a replaced binary with a copied mtime still misses).
// Concurrency: writers write a private temp file and rename() it over the entry, so a
// reader sees either the old or the new complete file; a lost race costs one extra probe.
// File I/O goes through the trusted-filesystem layer (src/sys/trusted-fs.ts); anything it
// refuses (a symlink, a wrong owner, a group-writable dir) or corrupt JSON is a miss.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, readTrustedFile, writeFileAtomic } from '../sys/trusted-fs';
import { pathHash } from '../sys/path-hash';

export interface BinaryIdentity {
  path: string;
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

interface CacheEntry extends BinaryIdentity {
  versions: string[];
}

const FORMAT = 1;

export function binaryIdentity(path: string): BinaryIdentity | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return {
      path,
      dev: String(st.dev),
      ino: String(st.ino),
      size: String(st.size),
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
    };
  } catch {
    return undefined;
  }
}

export function sameIdentity(a: BinaryIdentity, b: BinaryIdentity): boolean {
  return a.path === b.path && a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

function entryName(binary: string): string {
  return `version-${pathHash(binary)}.json`;
}

/**
 * Create the cache dir (0700) if needed; true only when it is a real directory of ours
 * that nobody else can write. An untrusted dir is simply not used.
 */
export function cacheDirUsable(cacheDir: string): boolean {
  try {
    ensurePrivateDir(cacheDir);
    return true;
  } catch {
    return false;
  }
}

export function readCachedVersions(cacheDir: string, id: BinaryIdentity): string[] | undefined {
  try {
    const buf = readTrustedFile(join(cacheDir, entryName(id.path)));
    if (buf === undefined) return undefined;
    const doc = JSON.parse(buf.toString('utf8')) as Partial<CacheEntry> & { format?: number };
    if (doc.format !== FORMAT) return undefined;
    if (!Array.isArray(doc.versions) || !doc.versions.every((v) => typeof v === 'string')) return undefined;
    if (!sameIdentity(doc as BinaryIdentity, id)) return undefined;
    return doc.versions;
  } catch {
    return undefined; // refused, unreadable or corrupt: a miss, never an error
  }
}

/** Best effort: a cache that cannot be written only costs a probe next time. */
export function writeCachedVersions(cacheDir: string, id: BinaryIdentity, versions: string[]): void {
  try {
    writeFileAtomic(cacheDir, entryName(id.path), JSON.stringify({ format: FORMAT, ...id, versions }));
  } catch {
    // a miss next time
  }
}
