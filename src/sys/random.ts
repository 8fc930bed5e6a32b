// Random bytes for temp-file names and tokens, read from the kernel (/dev/urandom) instead of
// node:crypto: loading node:crypto costs a few ms of start-up on every call (it pulls in ~25
// internal modules), for what is here one 8-byte read. Same shape as crypto.randomBytes.
import { closeSync, openSync, readSync } from 'node:fs';

export function randomBytes(n: number): Buffer {
  const buf = Buffer.allocUnsafe(n);
  const fd = openSync('/dev/urandom', 'r');
  try {
    for (let off = 0; off < n; ) {
      const got = readSync(fd, buf, off, n - off, null);
      if (got <= 0) throw new Error('/dev/urandom: short read');
      off += got;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}
