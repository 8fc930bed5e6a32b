// Loads the plugin's configuration from the parsed stdin document: version first (code 1),
// then the schema (code 7), then defaults. After this, code works with a typed, trusted value.
import { CniError, ErrorCode, show } from '../cni/errors';
import { SUPPORTED_VERSIONS, compareVersions, isSupported } from '../cni/versions';
import type { Command } from '../cni/env';
import type { AllocatorConf, DelegateConf, IdMappings, NetConf } from '../generated/types';
import { validateNetConf } from '../generated/validators';
import { describeError } from './schema-errors';
import type { ValidationError } from './validator-types';
import { sysctlFile, sysctlValue, type SysctlSetting } from '../ns/sysctl-names';

export const DEFAULTS = {
  netnsPinDirs: ['/run/netns', '/var/run/netns'],
  usernsPinDir: '/run/userns',
  dataDir: '/var/lib/cni/userns-netns',
  existingNetns: 'adopt' as const,
  pingGroupRange: 'mapped' as const,
  lockTimeoutMs: 10_000,
  logLevel: 'off' as const,
  allocator: {
    blockSize: 65536,
    subuidFile: '/etc/subuid',
    subgidFile: '/etc/subgid',
    allowSharedRanges: false,
  },
};

/** The allocator section with defaults applied; the pool keys stay optional (src/idmap/pool.ts). */
export type AllocatorConfig = AllocatorConf & Required<Pick<AllocatorConf, 'blockSize' | 'subuidFile' | 'subgidFile' | 'allowSharedRanges'>>;

export interface PluginConfig {
  /** The document as received, for passing runtime keys along. */
  raw: NetConf;
  cniVersion: string;
  name: string;
  delegates: DelegateConf[];
  idMappings?: IdMappings;
  allocator: AllocatorConfig;
  netnsPinDirs: string[];
  usernsPinDir: string;
  dataDir: string;
  existingNetns: 'adopt' | 'adopt-userns-owned' | 'refuse';
  /** `sysctls`, checked (net.* names, values) and in the config's order. */
  sysctls: SysctlSetting[];
  pingGroupRange: 'mapped' | 'unchanged';
  lockTimeoutMs: number;
  logFile?: string;
  logLevel: 'off' | 'error' | 'info' | 'debug';
  /**
   * What a lenient verb (DEL) found wrong with the config and ignored, one sentence each
   * (the key dropped and why). Empty for strict verbs: they refuse instead. Logged by the verb.
   */
  drift: string[];
}

/**
 * How much of the config a verb checks. DEL works from the record: it needs only the keys that
 * find the record and run the delegates' DEL, and must not fail forever because of drift (a
 * newer key after a binary rollback, "prevResult": null, a changed option). Every other key
 * that does not validate is dropped (its default applies) and reported in `drift`.
 */
const NEEDED_BY_LENIENT = new Set(['cniVersion', 'name', 'type', 'delegates', 'dataDir']);
const isLenient = (command: Command): boolean => command === 'DEL';

/** Checks `cniVersion` alone; used before the schema so a version problem gets code 1. */
export function checkVersion(doc: Record<string, unknown>, command: Command): string {
  const v = doc.cniVersion;
  if (v === undefined) {
    throw new CniError(ErrorCode.IncompatibleVersion, `cniVersion: required key missing (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  if (!isSupported(v)) {
    throw new CniError(ErrorCode.IncompatibleVersion, `cniVersion: unsupported version ${show(v)} (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  const minimum = command === 'CHECK' ? '0.4.0' : command === 'GC' || command === 'STATUS' ? '1.1.0' : undefined;
  if (minimum && compareVersions(v, minimum) < 0) {
    throw new CniError(ErrorCode.IncompatibleVersion, `cniVersion: config version ${show(v)} does not allow ${command} (needs ${minimum} or newer)`);
  }
  return v;
}

/** The top-level key a validation error is about, when a lenient verb may drop it. */
function droppableKey(e: ValidationError): string | undefined {
  const top = e.instancePath === '' ? (e.keyword === 'additionalProperties' ? String(e.params.additionalProperty) : undefined) : e.instancePath.split('/')[1]!.replace(/~1/g, '/').replace(/~0/g, '~');
  return top === undefined || NEEDED_BY_LENIENT.has(top) ? undefined : top;
}

/**
 * A delegate that is this plugin again. With the same dataDir its ADD waits on the lock our
 * own ADD holds and both time out (code 11, for ever); with another dataDir it would adopt
 * the netns we just made and run its own delegates in it - what listing them here does, with
 * a second record and journal for one attachment. Neither makes sense: refused.
 */
function selfInvocation(conf: NetConf, dataDir: string): { index: number; sameDataDir: boolean; message: string } | undefined {
  const index = conf.delegates.findIndex((d) => d.type === conf.type || d.type === 'userns-netns');
  if (index < 0) return undefined;
  const d = conf.delegates[index]!;
  const theirs = typeof d.dataDir === 'string' ? d.dataDir : DEFAULTS.dataDir;
  const sameDataDir = theirs === dataDir;
  const where = sameDataDir ? `the same dataDir ${show(dataDir)}` : `its own dataDir ${show(theirs)}, ours ${show(dataDir)}`;
  const message = `delegates[${index}].type: ${show(d.type)} is this plugin itself (${where}): ` + 'it would wait on its own attachment lock or nest a second record for one attachment; list its delegates here instead';
  return { index, sameDataDir, message };
}

export function loadNetConf(doc: Record<string, unknown>, command: Command): PluginConfig {
  const cniVersion = checkVersion(doc, command);
  const drift: string[] = [];
  let checked = doc;
  while (!validateNetConf(checked)) {
    const first = validateNetConf.errors?.[0];
    const drop = first && isLenient(command) ? droppableKey(first) : undefined;
    if (drop === undefined) {
      throw new CniError(ErrorCode.InvalidNetworkConfig, first ? `invalid network configuration: ${describeError(first)}` : 'invalid network configuration');
    }
    drift.push(`${describeError(first!)} (${command} ignores ${show(drop)})`);
    checked = { ...checked };
    delete checked[drop]; // one key less each round: the loop ends
  }
  const conf = checked as unknown as NetConf;
  const dataDir = conf.dataDir ?? DEFAULTS.dataDir;
  let delegates = conf.delegates;
  const self = selfInvocation(conf, dataDir);
  if (self !== undefined) {
    if (!isLenient(command)) throw new CniError(ErrorCode.InvalidNetworkConfig, self.message);
    // DEL after an ADD an older version accepted. With the same dataDir that delegate never
    // got past our lock, so it holds nothing to release; with another it may (keep its DEL).
    drift.push(self.message);
    if (self.sameDataDir) delegates = delegates.filter((_, i) => i !== self.index);
  }
  let sysctls: SysctlSetting[] = [];
  try {
    sysctls = Object.entries(conf.sysctls ?? {}).map(([key, value]) => {
      sysctlFile(key); // net.* only: throws code 7 naming the key
      return { key, value: sysctlValue(key, value) };
    });
  } catch (err) {
    if (!isLenient(command)) throw err;
    drift.push(`${(err as Error).message} (${command} ignores "sysctls")`);
  }
  return {
    raw: conf,
    cniVersion,
    name: conf.name,
    delegates,
    idMappings: conf.idMappings,
    allocator: { ...DEFAULTS.allocator, ...conf.allocator },
    netnsPinDirs: conf.netnsPinDirs ?? DEFAULTS.netnsPinDirs,
    usernsPinDir: conf.usernsPinDir ?? DEFAULTS.usernsPinDir,
    dataDir,
    existingNetns: conf.existingNetns ?? DEFAULTS.existingNetns,
    sysctls,
    pingGroupRange: conf.pingGroupRange ?? DEFAULTS.pingGroupRange,
    lockTimeoutMs: conf.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs,
    logFile: conf.logFile,
    logLevel: conf.logLevel ?? DEFAULTS.logLevel,
    drift,
  };
}
