// Asking a delegate which CNI versions it speaks (CNI_COMMAND=VERSION), the way Go's
// invoke.GetVersionInfo does, with the answer cached on disk (version-cache.ts).
import { callEnv } from '../sys/call-env';
import { CniError, ErrorCode, show } from '../cni/errors';
import { SUPPORTED_VERSIONS } from '../cni/versions';
import { delegateEnv } from './env';
import { runPlugin } from './exec';
import { delegateError } from './invoke';
import { basename } from 'node:path';
import { binaryIdentity, cacheDirUsable, readCachedVersions, sameIdentity, writeCachedVersions } from './version-cache';

export interface ProbeOptions {
  /** Root-only directory for cached answers; absent: always probe. */
  cacheDir?: string;
  /** CNI_PATH for the probe (plugins do not need it for VERSION, but some check it). */
  cniPath?: string;
  timeoutMs?: number;
  /** Called after a real probe (not for cache hits), with the delegate's stderr. */
  log?: (entry: { binary: string; durationMs: number; stderr: string; cached: false }) => void;
}

const OUR_NEWEST = SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.length - 1]!;

/**
 * Decode a VERSION answer. Legacy rules from Go's version.PluginDecoder: an answer of
 * version 0.2.0 without a list means 0.1.0 and 0.2.0; a plugin that does not know the
 * VERSION command at all is a 0.1.0 plugin.
 */
export function decodeVersionAnswer(stdout: string, name: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new CniError(ErrorCode.DecodeFailure, `plugin "${name}" answered VERSION with output that is not JSON: ${show(stdout.trim())}`);
  }
  const d = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const list = d.supportedVersions;
  if (Array.isArray(list) && list.length > 0 && list.every((v) => typeof v === 'string')) {
    return list as string[];
  }
  if (list === undefined && d.cniVersion === '0.2.0') return ['0.1.0', '0.2.0'];
  throw new CniError(ErrorCode.DecodeFailure, `plugin "${name}" answered VERSION without a supportedVersions list: ${show(doc)}`);
}

export async function probeVersions(binary: string, opts: ProbeOptions = {}): Promise<string[]> {
  const useCache = opts.cacheDir !== undefined && cacheDirUsable(opts.cacheDir);
  const before = useCache ? binaryIdentity(binary) : undefined;
  if (useCache && before) {
    const hit = readCachedVersions(opts.cacheDir!, before);
    if (hit) return hit;
  }

  const name = basename(binary);
  const env = delegateEnv('VERSION', { cniPath: opts.cniPath ?? callEnv().CNI_PATH ?? '' });
  const run = await runPlugin(binary, env, JSON.stringify({ cniVersion: OUR_NEWEST }), opts.timeoutMs);
  opts.log?.({ binary, durationMs: run.durationMs, stderr: run.stderr, cached: false });

  let versions: string[];
  if (run.exitCode === 0) {
    versions = decodeVersionAnswer(run.stdout, name);
  } else {
    const err = delegateError(name, 'VERSION', run, opts.timeoutMs);
    if (err.message !== 'unknown CNI_COMMAND: VERSION') throw err;
    versions = ['0.1.0'];
  }

  // Only cache if the binary did not change while it ran: otherwise we would file the new
  // binary's answer under the old binary's identity (or the reverse).
  if (useCache && before) {
    const after = binaryIdentity(binary);
    if (after && sameIdentity(before, after)) writeCachedVersions(opts.cacheDir!, after, versions);
  }
  return versions;
}
