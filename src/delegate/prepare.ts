// The config a delegate gets on stdin: its own section from our config, plus what a
// runtime would have injected had it called the delegate directly (libcni's
// buildOneConfig / injectRuntimeConfig): name, cniVersion, prevResult, runtimeConfig.
import { CniError, ErrorCode, show } from '../cni/errors';
import { convertResult } from '../cni/result-convert';
import { SUPPORTED_VERSIONS, highestCommon, isSupported } from '../cni/versions';

export interface PrepareOptions {
  /** The network name (our config's `name`). */
  name: string;
  /** Our config's cniVersion: the ceiling for the delegate's version. */
  cniVersion: string;
  /** The delegate's VERSION answer. Absent: the delegate gets `cniVersion` unchanged. */
  delegateVersions?: readonly string[];
  /** The previous result in the chain, in any supported version. */
  prevResult?: unknown;
}

/**
 * The highest version we and the delegate both speak, never above the config's version
 * (a delegate must not answer in a version the caller cannot read). Code 1 if none.
 */
export function chooseDelegateVersion(configVersion: string, delegateVersions: readonly string[], type = 'delegate'): string {
  const v = highestCommon(SUPPORTED_VERSIONS, delegateVersions, configVersion);
  if (v === undefined) {
    throw new CniError(ErrorCode.IncompatibleVersion, `plugin ${show(type)} supports none of the CNI versions we can use up to ${configVersion}` + ` (it supports: ${delegateVersions.join(', ') || 'nothing'})`);
  }
  return v;
}

/** A new object; `delegate` is not modified. */
export function prepareDelegateConf(delegate: Record<string, unknown>, opts: PrepareOptions): Record<string, unknown> {
  if (!isSupported(opts.cniVersion)) {
    throw new CniError(ErrorCode.IncompatibleVersion, `unsupported CNI version ${show(opts.cniVersion)}`);
  }
  const version = opts.delegateVersions ? chooseDelegateVersion(opts.cniVersion, opts.delegateVersions, String(delegate.type)) : opts.cniVersion;
  const conf: Record<string, unknown> = { ...structuredClone(delegate), name: opts.name, cniVersion: version };
  // Ours (how to run it), not the delegate's: Go plugins would not mind, a strict one might.
  delete conf.runInPodUserns;
  if (opts.prevResult === undefined) delete conf.prevResult;
  else conf.prevResult = convertResult(opts.prevResult, version);
  return conf;
}

/**
 * Capability arguments go into `runtimeConfig`, only for capabilities the delegate
 * declares (`"capabilities": {"portMappings": true}`), exactly as libcni does.
 */
export function injectRuntimeConfig(conf: Record<string, unknown>, capArgs: Record<string, unknown>): Record<string, unknown> {
  const caps = conf.capabilities;
  if (typeof caps !== 'object' || caps === null) return conf;
  const rc: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(capArgs)) {
    if ((caps as Record<string, unknown>)[key] === true) rc[key] = value;
  }
  if (Object.keys(rc).length === 0) return conf;
  const existing = typeof conf.runtimeConfig === 'object' && conf.runtimeConfig !== null ? conf.runtimeConfig : {};
  return { ...conf, runtimeConfig: { ...existing, ...rc } };
}
