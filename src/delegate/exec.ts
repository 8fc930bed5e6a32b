// Running a plugin binary once: config on stdin, stdout and stderr captured, never
// inherited (our stdout carries exactly one JSON document). Mirrors Go's RawExec,
// including its retry on ETXTBSY (a binary that is being written by an installer).
//
// execa's synchronous API, chosen by measurement (npm run bench, "execa" line): in a fresh
// process, as every CNI call is, its asynchronous path costs ~20-30 ms more per delegate run
// (cold stream and promise machinery), the sync one ~5-10 ms over a bare spawnSync.
// The delegate's stdout and stderr go to anonymous in-memory files, not pipes: a synchronous
// spawn waits for its pipes to close, and a grandchild that inherited them (a shell's `sleep`,
// a helper that daemonized without closing fds) would hold us until it exits - forever, for a
// daemon. With files, we wait for the delegate's exit and nothing else. The output limit is
// checked once the delegate has exited (the timeout bounds how much it can write before).
// A SIGTERM to us while a delegate runs ends us at once (we have no handler, and none could run
// during the wait); the delegate then runs to its end by itself, as it always did on SIGKILL,
// and its journalled intent lets the next DEL or GC undo what it did.
// The resident helper (src/helper/serve.ts) runs many calls in one process: there a synchronous
// wait would stall every other call (and SIGTERM) for as long as one delegate runs, while the
// async path's cold start is paid once per helper, not per call. It switches to execa's async API.
import { closeSync, fstatSync, readSync } from 'node:fs';
import { execa, execaSync } from 'execa';
import { performance } from '../sys/clock';
import { memfd } from '../sys/memfd';

export interface RawRun {
  stdout: string;
  stderr: string;
  /** Undefined when killed by a signal, never started, or its output was too large. */
  exitCode: number | undefined;
  signal: string | undefined;
  timedOut: boolean;
  /** Set when the binary could not be started at all (ENOENT, EACCES, ...), or its output was too large. */
  spawnError: string | undefined;
  durationMs: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_OUTPUT = 16 * 1024 * 1024;
const TXTBSY_RETRIES = 5;

let waitAsync = false;
/** From now on, wait for delegates without blocking the event loop (the resident helper). */
export function runDelegatesAsync(): void {
  waitAsync = true;
}

/** What the delegate wrote to `fd`, up to `limit` bytes; undefined when it wrote more. */
function readOutput(fd: number, limit: number): string | undefined {
  const size = fstatSync(fd).size;
  if (size > limit) return undefined;
  const buf = Buffer.allocUnsafe(size);
  for (let off = 0; off < size; ) {
    const n = readSync(fd, buf, off, size - off, off);
    if (n <= 0) break;
    off += n;
  }
  return buf.toString('utf8');
}

export async function runPlugin(binary: string, env: Record<string, string>, stdin: string, timeoutMs = DEFAULT_TIMEOUT_MS, args: readonly string[] = []): Promise<RawRun> {
  const start = performance.now();
  for (let attempt = 0; ; attempt++) {
    const out = memfd('delegate-stdout');
    const err = memfd('delegate-stderr');
    try {
      const options = {
        input: stdin,
        env,
        extendEnv: false, // env is complete: unset variables must stay unset
        // execa's types list only the fd literals 3-9; any fd number is handed to spawnSync as is.
        stdout: out as 3,
        stderr: err as 3,
        reject: false,
        stripFinalNewline: false,
        timeout: timeoutMs,
        // A synchronous wait cannot send a second, harder signal later: kill at once. CNI
        // delegates have nothing to flush that a SIGTERM would have saved.
        killSignal: 'SIGKILL',
      } as const;
      const r = waitAsync ? await execa(binary, args, options) : execaSync(binary, args, options);
      if (r.code === 'ETXTBSY' && attempt < TXTBSY_RETRIES) {
        await new Promise((ok) => setTimeout(ok, 50 * 2 ** attempt));
        continue;
      }
      const stdout = readOutput(out, MAX_OUTPUT);
      const stderr = readOutput(err, MAX_OUTPUT);
      const neverRan = r.exitCode === undefined && r.signal === undefined && !r.timedOut;
      const tooLarge = stdout === undefined || stderr === undefined ? `its ${stdout === undefined ? 'stdout' : 'stderr'} exceeded ${MAX_OUTPUT} bytes` : undefined;
      return {
        stdout: stdout ?? '',
        stderr: stderr ?? '',
        exitCode: tooLarge ? undefined : r.exitCode, // a failure, whatever its exit status
        signal: r.signal,
        timedOut: r.timedOut,
        spawnError: neverRan ? (r.code ?? r.originalMessage ?? 'unknown error') : tooLarge,
        durationMs: performance.now() - start,
      };
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }
}
