// stdout carries exactly one JSON document: the result or the error. Written synchronously so
// that it is complete before the process exits, whatever else is pending.
import { writeSync } from 'node:fs';

export function writeDocument(doc: unknown, fd = 1): void {
  writeText(JSON.stringify(doc) + '\n', fd);
}

/** Writes all of `text` to `fd`, synchronously (EAGAIN on a non-blocking pipe: retried). */
export function writeText(text: string, fd: number): void {
  const data = Buffer.from(text);
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw err;
    }
  }
}
