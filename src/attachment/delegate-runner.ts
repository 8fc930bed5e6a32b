// Runs the configured delegates against a namespace, one verb at a time, the way libcni runs
// a chain: in order for ADD/CHECK (each gets the previous result), in reverse for DEL.
import { join } from 'node:path';
import { CniError, ErrorCode, show } from '../cni/errors';
import type { Invocation } from '../config/invocation';
import { convertResult } from '../cni/result-convert';
import type { AttachmentRecord } from '../generated/types';
import type { Logger } from '../log/logger';
import { ensurePrivateDir } from '../state/atomic-file';
import { findPlugin, invokeDelegate, prepareDelegateConf, probeVersions, chooseDelegateVersion } from '../delegate';
import type { DelegateEnv, DelegateLauncher } from '../delegate';
import { type DelegateNetns, withPodUserns } from './pod-userns';

export type { DelegateNetns };

/**
 * What running delegates needs of the call - no attachment key: GC and STATUS run delegates
 * for the whole network, and their delegates get no CNI_CONTAINERID or CNI_IFNAME.
 */
export interface DelegateCall {
  /** Where delegates are found; also their CNI_PATH. */
  cniPath: string;
  /** Our config's name and cniVersion (the ceiling for the delegates' versions). */
  network: string;
  cniVersion: string;
  /** Root-only directory for cached delegate VERSION answers. */
  versionCacheDir: string;
  /** What the delegates get of the call, besides CNI_COMMAND and CNI_NETNS. */
  env: Omit<DelegateEnv, 'netns' | 'cniPath'>;
  log: Logger;
}

/** The delegates' view of `inv`; `key` for a per-attachment verb (ADD, CHECK, DEL). */
export function delegateCallFor(inv: Invocation, log: Logger, key?: { containerId: string; ifname: string }): DelegateCall {
  const raw = inv.env.args.map(([k, v]) => `${k}=${v}`).join(';');
  const rc = inv.conf.raw.runtimeConfig;
  return {
    cniPath: inv.env.path.join(':'),
    network: inv.conf.name,
    cniVersion: inv.conf.cniVersion,
    versionCacheDir: join(inv.conf.dataDir, 'version-cache'),
    env: {
      containerId: key?.containerId,
      ifname: key?.ifname,
      cniArgs: raw === '' ? undefined : raw,
      capArgs: rc && Object.keys(rc).length > 0 ? rc : undefined,
    },
    log,
  };
}

/** The netns a record's delegates run against, with the owner they must find there. */
export function delegateNetnsOf(rec: AttachmentRecord): DelegateNetns {
  return { path: rec.netns.path, inode: rec.netns.inode, usernsInode: rec.userns.inode, hostOwned: rec.userns.hostOwned, mappings: rec.mappings };
}

export interface PreparedDelegate {
  type: string;
  binary: string;
  cniVersion: string;
  /** The delegate's config with name/cniVersion injected, without prevResult (nor runInPodUserns). */
  conf: Record<string, unknown>;
  /** Run inside the pod's user namespace (see pod-userns.ts). */
  runInPodUserns: boolean;
}

let cacheUsable: boolean | undefined;

/** Finds the binary and picks the version both sides speak (VERSION answers are cached on disk). */
export async function prepareDelegate(call: DelegateCall, delegate: Record<string, unknown>): Promise<PreparedDelegate> {
  const type = String(delegate.type);
  const binary = findPlugin(type, call.cniPath);
  if (cacheUsable === undefined) {
    try {
      ensurePrivateDir(call.versionCacheDir);
      cacheUsable = true;
    } catch (err) {
      // Only a speed-up: without it every call probes VERSION again.
      call.log.error('version-cache-unusable', { dir: call.versionCacheDir, error: (err as Error).message });
      cacheUsable = false;
    }
  }
  const versions = await probeVersions(binary, { cacheDir: cacheUsable ? call.versionCacheDir : undefined, cniPath: call.cniPath });
  const cniVersion = chooseDelegateVersion(call.cniVersion, versions, type);
  const conf = prepareDelegateConf(delegate, { name: call.network, cniVersion: call.cniVersion, delegateVersions: versions });
  return { type, binary, cniVersion, conf, runInPodUserns: delegate.runInPodUserns === true };
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
  call: DelegateCall,
  command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS',
  d: { type: string; binary?: string; cniVersion: string; conf: Record<string, unknown>; runInPodUserns?: boolean },
  netns: DelegateNetns | undefined,
  prevResult?: unknown,
  index?: number,
): Promise<Record<string, unknown> | undefined> {
  const binary = d.binary ?? findPlugin(d.type, call.cniPath);
  const conf = prepareDelegateConf(d.conf, { name: call.network, cniVersion: d.cniVersion, prevResult: prevResultFor(d, prevResult) });
  const run = (via?: DelegateLauncher) =>
    invokeDelegate({
      binary,
      via,
      command,
      index,
      netconf: conf,
      env: { ...call.env, netns: netns?.path, cniPath: call.cniPath },
      log: (e) => call.log.info('delegate', { delegate: e.delegate, delegateCommand: e.command, exitCode: e.exitCode, durationMs: e.durationMs, podUserns: via ? true : undefined, stderr: e.stderr || undefined }),
    });
  // Without a netns (GC, STATUS, a DEL after the netns went) there is no pod user namespace to
  // enter: such a delegate runs as any other, so that its DEL still releases what it keeps.
  if (d.runInPodUserns && netns !== undefined) return withPodUserns(d.type, binary, netns, run);
  return run();
}
