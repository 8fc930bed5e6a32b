// Running one delegate for one CNI verb and turning its answer into a result or a
// CniError, like Go's invoke.ExecPluginWithResult / pluginErr. The delegate's own error
// code and message pass through unchanged (spec); `details` says which delegate spoke.
import { basename } from 'node:path';
import { CniError, ErrorCode, show } from '../cni/errors';
import { type DelegateCommand, type DelegateEnv, delegateEnv } from './env';
import { type RawRun, runPlugin } from './exec';
import { injectRuntimeConfig } from './prepare';
import { readResult } from '../cni/result-check';

export interface DelegateLogEntry {
  delegate: string;
  command: DelegateCommand;
  binary: string;
  exitCode: number | undefined;
  durationMs: number;
  /** Everything the delegate wrote to stderr (Go plugins log there). */
  stderr: string;
}

/** A program that execs the delegate (e.g. nsenter into the pod's namespaces): `file args... binary`. */
export interface DelegateLauncher {
  file: string;
  args: string[];
}

export interface InvokeOptions {
  binary: string;
  /** Run the binary through this launcher, with the same environment, stdin and outputs. */
  via?: DelegateLauncher;
  command: Exclude<DelegateCommand, 'VERSION'>;
  netconf: Record<string, unknown>;
  env: DelegateEnv;
  timeoutMs?: number;
  /** The delegate's position in the chain, for messages. */
  index?: number;
  /** Receives every run, successful or not; never our stdout. */
  log?: (entry: DelegateLogEntry) => void;
}

/** Failure facts kept as the CniError's `cause`, for logs and the record. */
export interface DelegateFailure {
  delegate: string;
  command: string;
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

function label(netconf: Record<string, unknown>, binary: string): string {
  return typeof netconf.type === 'string' && netconf.type !== '' ? netconf.type : basename(binary);
}

function clip(s: string, max = 400): string {
  const t = s.trim();
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The CniError for a delegate that exited non-zero (or never ran, or timed out). */
export function delegateError(name: string, command: string, run: RawRun, timeoutMs?: number): CniError {
  const cause: DelegateFailure = {
    delegate: name,
    command,
    exitCode: run.exitCode,
    signal: run.signal,
    stdout: run.stdout,
    stderr: run.stderr,
  };
  const where = `delegate "${name}" (${command})`;
  const withDetails = (theirs: unknown): string => (typeof theirs === 'string' && theirs !== '' ? `${where}: ${theirs}` : where);

  if (run.spawnError !== undefined) {
    return new CniError(ErrorCode.Internal, `failed to run plugin "${name}": ${run.spawnError}`, {
      details: where,
      cause,
    });
  }
  if (run.timedOut) {
    return new CniError(ErrorCode.Internal, `plugin "${name}" timed out after ${timeoutMs} ms`, {
      details: withDetails(clip(run.stderr)),
      cause,
    });
  }
  let doc: unknown;
  try {
    doc = run.stdout.trim() === '' ? undefined : JSON.parse(run.stdout);
  } catch {
    doc = undefined;
  }
  if (isObject(doc) && typeof doc.msg === 'string') {
    // The delegate's own code passes through; a missing/bogus code still needs a non-zero one.
    const code = Number.isInteger(doc.code) && (doc.code as number) > 0 ? (doc.code as number) : ErrorCode.Internal;
    return new CniError(code, doc.msg, { details: withDetails(doc.details), cause });
  }
  const how = run.signal ? `killed by ${run.signal}` : `exit status ${run.exitCode}`;
  const said = run.stdout.trim() !== '' ? `, unparseable error output ${show(clip(run.stdout, 200))}` : run.stderr.trim() !== '' ? `: ${clip(run.stderr, 200)}` : ' with no error message';
  return new CniError(ErrorCode.Internal, `plugin "${name}" failed (${how})${said}`, {
    details: where,
    cause,
  });
}

/**
 * Run a delegate. Returns its result for ADD, checked (cni/result-check);
 * for the other verbs whatever JSON object it printed (usually nothing: undefined). Throws
 * CniError on failure, and code 6 naming the delegate and the field for a result we could not use.
 */
export async function invokeDelegate(opts: InvokeOptions): Promise<Record<string, unknown> | undefined> {
  const name = label(opts.netconf, opts.binary);
  const conf = opts.env.capArgs ? injectRuntimeConfig(opts.netconf, opts.env.capArgs) : opts.netconf;
  const env = delegateEnv(opts.command, opts.env);
  const [file, args] = opts.via ? [opts.via.file, [...opts.via.args, opts.binary]] : [opts.binary, []];
  const run = await runPlugin(file, env, JSON.stringify(conf), opts.timeoutMs, args);
  opts.log?.({
    delegate: name,
    command: opts.command,
    binary: opts.binary,
    exitCode: run.exitCode,
    durationMs: run.durationMs,
    stderr: run.stderr,
  });
  if (run.exitCode !== 0) throw delegateError(name, opts.command, run, opts.timeoutMs);

  if (opts.command !== 'ADD') {
    // Go's DelegateDel/Check ignore stdout; so do we unless it is a JSON object.
    let doc: unknown;
    try {
      doc = JSON.parse(run.stdout);
    } catch {
      doc = undefined;
    }
    return isObject(doc) ? doc : undefined;
  }
  try {
    return readResult(run.stdout) as unknown as Record<string, unknown>;
  } catch (err) {
    const at = opts.index === undefined ? '' : ` (index ${opts.index})`;
    throw new CniError(ErrorCode.DecodeFailure, `delegate "${name}"${at} ADD result: ${(err as Error).message}`, {
      details: `delegate "${name}" (ADD)`,
      cause: err,
    });
  }
}
