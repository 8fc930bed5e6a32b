// Reads the network configuration from stdin: fully, with synchronous reads (the plugin does
// nothing else meanwhile), and never more than a limit, so a runaway writer cannot balloon our
// memory. Async only so that the poll(2) module (and koffi with it) loads when needed: VERSION
// and config errors answer without it.
import { readSync } from 'node:fs';
import { CniError, ErrorCode } from './errors';

export const STDIN_LIMIT = 1024 * 1024;

/** `prefix`: what was already read from `fd` (by the helper shim, before it fell back to us). */
export async function readStdin(fd = 0, limit = STDIN_LIMIT, prefix?: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = prefix ? [prefix] : [];
  let total = prefix?.length ?? 0;
  if (total > limit) throw tooLarge(limit);
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        // A non-blocking pipe: sleep in poll() until the writer writes (never spin a core).
        try {
          (await import('../sys/poll')).waitReadable(fd);
        } catch (e) {
          throw new CniError(ErrorCode.IoFailure, `waiting for the network configuration on stdin failed: ${(e as Error).message}`, { cause: e });
        }
        continue;
      }
      if (code === 'EOF') break;
      throw new CniError(ErrorCode.IoFailure, `reading the network configuration from stdin failed: ${(err as Error).message}`, { cause: err });
    }
    if (n === 0) break;
    total += n;
    if (total > limit) throw tooLarge(limit);
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks, total);
}

function tooLarge(limit: number): CniError {
  return new CniError(ErrorCode.DecodeFailure, `the network configuration on stdin is larger than ${limit} bytes`);
}

/** Parses the stdin bytes as one JSON object (code 6 otherwise). */
export function parseJsonObject(bytes: Buffer, what = 'network configuration'): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new CniError(ErrorCode.DecodeFailure, `${what} on stdin is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new CniError(ErrorCode.DecodeFailure, `${what} on stdin must be a JSON object`);
  }
  return doc as Record<string, unknown>;
}
