// Structured log: JSON lines with per-step durations and the attachment named, appended to
// `logFile` when configured. Off by default; never written to stdout (that is the protocol's).
import { closeSync, writeSync } from 'node:fs';
import { openLogFile } from './log-file';
import { performance } from '../sys/clock';

export type LogLevel = 'off' | 'error' | 'info' | 'debug';
const RANK: Record<LogLevel, number> = { off: 0, error: 1, info: 2, debug: 3 };

export interface Logger {
  error(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  debug(event: string, fields?: Record<string, unknown>): void;
  /** Times a step; the returned function logs `step` with its duration in ms. */
  step(name: string): (fields?: Record<string, unknown>) => number;
  /** Adds fields to every later line (e.g. the attachment once it is known). */
  bind(fields: Record<string, unknown>): void;
  close(): void;
}

// logFiles already found unusable in this process: the reason is printed once, not per logger.
const refusedFiles = new Set<string>();

export function createLogger(opts: { file?: string; level?: LogLevel; command?: string }): Logger {
  const level = opts.file ? RANK[opts.level && opts.level !== 'off' ? opts.level : 'info'] : 0;
  const bound: Record<string, unknown> = { pid: process.pid, command: opts.command };
  let fd: number | undefined;
  let refused = false;
  const start = performance.now();

  function write(lvl: LogLevel, event: string, fields?: Record<string, unknown>) {
    if (RANK[lvl] > level || !opts.file || refused) return;
    try {
      if (fd === undefined) {
        // O_APPEND keeps lines from parallel plugin processes whole.
        const opened = openLogFile(opts.file);
        if ('refused' in opened) {
          refused = true; // then the verb goes on without a log
          if (!refusedFiles.has(opts.file)) process.stderr.write(`userns-netns: logFile ${opts.file} not used: ${opened.refused}; logging skipped\n`);
          refusedFiles.add(opts.file);
          return;
        }
        fd = opened.fd;
      }
      const line = JSON.stringify({ time: new Date().toISOString(), level: lvl, event, ...bound, ...fields, sinceStartMs: round(performance.now() - start) });
      writeSync(fd, `${line}\n`);
    } catch {
      // Logging must never break a CNI operation.
    }
  }

  return {
    error: (e, f) => write('error', e, f),
    info: (e, f) => write('info', e, f),
    debug: (e, f) => write('debug', e, f),
    step(name) {
      const t0 = performance.now();
      return (fields) => {
        const ms = round(performance.now() - t0);
        write('info', 'step', { step: name, durationMs: ms, ...fields });
        return ms;
      };
    },
    bind(fields) {
      Object.assign(bound, fields);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Start-up marks set by the launcher (ms since process start), rounded for the log. */
export function startupMarks(): Record<string, number> {
  const marks = (globalThis as { __USERNS_NETNS_MARKS__?: Record<string, number> }).__USERNS_NETNS_MARKS__ ?? {};
  return Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, round(v)]));
}

/**
 * The fields of every call's 'start' line: which build runs (the code hash its source map
 * carries, to map a stack of this call with the right map) and what its start-up cost.
 */
export function startFields(): Record<string, unknown> {
  return { codeHash: globalThis.__USERNS_NETNS_CODE_HASH__, startupMs: msSinceProcessStart(), marks: startupMarks() };
}

/** Process start to now: Node's own start-up plus loading our code. */
export function msSinceProcessStart(): number {
  return round(performance.now());
}
