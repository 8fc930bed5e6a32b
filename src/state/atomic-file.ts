// The state layer's file primitives: the trusted-filesystem layer (src/sys/trusted-fs.ts: private
// directories, no-follow reads, temp + fsync + rename + fsync(dir) writes) under the names the
// state code uses, plus the sweep of temp files that writers killed mid-write left behind.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { isTempName, readTrustedFile, removeFileDurable } from '../sys/trusted-fs';

export {
  TEMP_SUFFIX,
  assertPlainName,
  checkPrivateDir,
  ensurePrivateDir,
  isTempName,
  isTempNameOf,
  removeFileDurable,
  writeFileAtomic,
} from '../sys/trusted-fs';

/**
 * Reads a state file without following a symlink (and refusing a FIFO, a foreign owner, a
 * group/other-writable mode: code 102). Returns undefined when the file does not exist.
 */
export function readFileNoFollow(file: string): Buffer | undefined {
  return readTrustedFile(file);
}

/**
 * Removes temp files left by writers killed between create and rename. Only files older
 * than `olderThanMs` go: a live writer finishes within milliseconds.
 */
export function sweepTempFiles(dir: string, olderThanMs = 60_000): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new CniError(ErrorCode.IoFailure, `cannot list ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  let removed = 0;
  const cutoff = Date.now() - olderThanMs;
  for (const name of names.filter(isTempName)) {
    try {
      const st = lstatSync(join(dir, name));
      if (st.isFile() && st.mtimeMs < cutoff && removeFileDurable(dir, name)) removed++;
    } catch {
      // gone meanwhile, or unreadable: not worth failing a caller over
    }
  }
  return removed;
}
