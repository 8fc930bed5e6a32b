// Running a plugin binary once: config on stdin, stdout and stderr captured, never
// inherited (our stdout carries exactly one JSON document). Mirrors Go's RawExec,
// including its retry on ETXTBSY (a binary that is being written by an installer).
import { execa } from 'execa';
import { performance } from '../sys/clock';

export interface RawRun {
  stdout: string;
  stderr: string;
  /** Undefined when killed by a signal or never started. */
  exitCode: number | undefined;
  signal: string | undefined;
  timedOut: boolean;
  /** Set when the binary could not be started at all (ENOENT, EACCES, ...). */
  spawnError: string | undefined;
  durationMs: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_OUTPUT = 16 * 1024 * 1024;
const TXTBSY_RETRIES = 5;
const KILL_GRACE_MS = 1_000;
const DRAIN_AFTER_EXIT_MS = 300;

export async function runPlugin(
  binary: string,
  env: Record<string, string>,
  stdin: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<RawRun> {
  const start = performance.now();
  for (let attempt = 0; ; attempt++) {
    const sub = execa(binary, [], {
      input: stdin,
      env,
      extendEnv: false, // env is complete: unset variables must stay unset
      stdout: 'pipe',
      stderr: 'pipe',
      reject: false,
      stripFinalNewline: false,
      timeout: timeoutMs,
      forceKillAfterDelay: KILL_GRACE_MS,
      maxBuffer: MAX_OUTPUT,
      cleanup: true, // a delegate must not outlive us (runtime killed us mid-ADD)
      windowsHide: true,
    });
    // execa waits for the delegate's pipes to close, not for the delegate to exit. A
    // grandchild that inherited them (a shell's `sleep`, a helper that daemonized without
    // closing fds) would hold us until it exits - forever, for a daemon. Once the delegate
    // itself has exited, give its output a moment to drain, then stop reading.
    let stopReading: NodeJS.Timeout | undefined;
    sub.once('exit', () => {
      stopReading = setTimeout(() => {
        sub.stdout?.destroy();
        sub.stderr?.destroy();
      }, DRAIN_AFTER_EXIT_MS);
    });
    const r = await sub.finally(() => clearTimeout(stopReading));
    if (r.code === 'ETXTBSY' && attempt < TXTBSY_RETRIES) {
      await new Promise((ok) => setTimeout(ok, 50 * 2 ** attempt));
      continue;
    }
    const neverRan = r.exitCode === undefined && r.signal === undefined && !r.timedOut;
    return {
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      stderr: typeof r.stderr === 'string' ? r.stderr : '',
      exitCode: r.exitCode,
      signal: r.signal,
      timedOut: r.timedOut,
      spawnError: neverRan ? (r.code ?? r.originalMessage ?? 'unknown error') : undefined,
      durationMs: performance.now() - start,
    };
  }
}
