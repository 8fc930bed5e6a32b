// Runs the configured delegates against a namespace, one verb at a time, the way libcni runs
// a chain: in order for ADD/CHECK (each gets the previous result), in reverse for DEL.
import { CniError, ErrorCode, show } from '../cni/errors';
import { convertResult } from '../cni/result-convert';
import { ensurePrivateDir } from '../state/atomic-file';
import { findPlugin, invokeDelegate, prepareDelegateConf, probeVersions, chooseDelegateVersion } from '../delegate';
import type { DelegateEnv } from '../delegate';
import type { AttachmentContext } from './context';

export interface PreparedDelegate {
  type: string;
  binary: string;
  cniVersion: string;
  /** The delegate's config with name/cniVersion injected, without prevResult. */
  conf: Record<string, unknown>;
}

let cacheUsable: boolean | undefined;

/** Finds the binary and picks the version both sides speak (VERSION answers are cached on disk). */
export async function prepareDelegate(ctx: AttachmentContext, delegate: Record<string, unknown>): Promise<PreparedDelegate> {
  const type = String(delegate.type);
  const binary = findPlugin(type, ctx.cniPath);
  if (cacheUsable === undefined) {
    try {
      ensurePrivateDir(ctx.versionCacheDir);
      cacheUsable = true;
    } catch (err) {
      // Only a speed-up: without it every call probes VERSION again.
      ctx.log.error('version-cache-unusable', { dir: ctx.versionCacheDir, error: (err as Error).message });
      cacheUsable = false;
    }
  }
  const versions = await probeVersions(binary, { cacheDir: cacheUsable ? ctx.versionCacheDir : undefined, cniPath: ctx.cniPath });
  const cniVersion = chooseDelegateVersion(ctx.inv.conf.cniVersion, versions, type);
  const conf = prepareDelegateConf(delegate, { name: ctx.inv.conf.name, cniVersion: ctx.inv.conf.cniVersion, delegateVersions: versions });
  return { type, binary, cniVersion, conf };
}

export function delegateEnvFor(ctx: AttachmentContext, netns: string | undefined): DelegateEnv {
  const raw = ctx.inv.env.args.map(([k, v]) => `${k}=${v}`).join(';');
  const rc = ctx.inv.conf.raw.runtimeConfig;
  return {
    containerId: ctx.key.containerId,
    ifname: ctx.key.ifname,
    netns,
    cniArgs: raw === '' ? undefined : raw,
    cniPath: ctx.cniPath,
    capArgs: rc && Object.keys(rc).length > 0 ? rc : undefined,
  };
}

/**
 * `result` as delegate `d`'s prevResult, in its version. A result that cannot be converted (one
 * recorded before results were checked on ADD, or a damaged record) is code 6 naming the
 * delegate and the version, not a crash deep in the conversion.
 */
export function prevResultFor(d: { type: string; cniVersion: string }, result: unknown): Record<string, unknown> | undefined {
  if (result === undefined) return undefined;
  try {
    return convertResult(result, d.cniVersion);
  } catch (err) {
    throw new CniError(ErrorCode.DecodeFailure, `the recorded result cannot be given to delegate ${show(d.type)} as prevResult in CNI version ${show(d.cniVersion)}: ${(err as Error).message}`, { cause: err });
  }
}

export async function runDelegate(
  ctx: AttachmentContext,
  command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS',
  d: { type: string; binary?: string; cniVersion: string; conf: Record<string, unknown> },
  netns: string | undefined,
  prevResult?: unknown,
  index?: number,
): Promise<Record<string, unknown> | undefined> {
  const binary = d.binary ?? findPlugin(d.type, ctx.cniPath);
  const conf = prepareDelegateConf(d.conf, { name: ctx.inv.conf.name, cniVersion: d.cniVersion, prevResult: prevResultFor(d, prevResult) });
  return invokeDelegate({
    binary,
    command,
    index,
    netconf: conf,
    env: delegateEnvFor(ctx, netns),
    log: (e) => ctx.log.info('delegate', { delegate: e.delegate, delegateCommand: e.command, exitCode: e.exitCode, durationMs: e.durationMs, stderr: e.stderr || undefined }),
  });
}
