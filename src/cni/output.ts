// stdout carries exactly one JSON document: the result or the error. Written synchronously so
// that it is complete before the process exits, whatever else is pending.
import { writeSync } from 'node:fs';

export function writeDocument(doc: unknown, fd = 1): void {
  writeAll(JSON.stringify(doc) + '\n', fd);
}

/**
 * All of `text` to `fd`, synchronously: process.stdout.write to a pipe is lost past ~64 KiB at
 * exit, and EAGAIN on a non-blocking pipe is retried.
 */
export function writeAll(text: string, fd = 1): void {
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
