// Loads the plugin's configuration from the parsed stdin document: version first (code 1),
// then the schema (code 7), then defaults. After this, code works with a typed, trusted value.
import { CniError, ErrorCode, show } from '../cni/errors';
import { SUPPORTED_VERSIONS, compareVersions, isSupported } from '../cni/versions';
import type { Command } from '../cni/env';
import type { AllocatorConf, DelegateConf, IdMappings, NetConf } from '../generated/types';
import { validateNetConf } from '../generated/validators';
import { describeError } from './schema-errors';

export const DEFAULTS = {
  netnsPinDirs: ['/run/netns', '/var/run/netns'],
  usernsPinDir: '/run/userns',
  dataDir: '/var/lib/cni/userns-netns',
  existingNetns: 'adopt' as const,
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
  lockTimeoutMs: number;
  logFile?: string;
  logLevel: 'off' | 'error' | 'info' | 'debug';
}

/** Checks `cniVersion` alone; used before the schema so a version problem gets code 1. */
export function checkVersion(doc: Record<string, unknown>, command: Command): string {
  const v = doc.cniVersion;
  if (v === undefined) {
    throw new CniError(ErrorCode.IncompatibleVersion, `cniVersion: required key missing (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  if (!isSupported(v)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `cniVersion: unsupported version ${show(v)} (supported: ${SUPPORTED_VERSIONS.join(', ')})`,
    );
  }
  const minimum = command === 'CHECK' ? '0.4.0' : command === 'GC' || command === 'STATUS' ? '1.1.0' : undefined;
  if (minimum && compareVersions(v, minimum) < 0) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `cniVersion: config version ${show(v)} does not allow ${command} (needs ${minimum} or newer)`,
    );
  }
  return v;
}

export function loadNetConf(doc: Record<string, unknown>, command: Command): PluginConfig {
  const cniVersion = checkVersion(doc, command);
  if (!validateNetConf(doc)) {
    const first = validateNetConf.errors?.[0];
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      first ? `invalid network configuration: ${describeError(first)}` : 'invalid network configuration',
    );
  }
  const conf = doc as unknown as NetConf;
  return {
    raw: conf,
    cniVersion,
    name: conf.name,
    delegates: conf.delegates,
    idMappings: conf.idMappings,
    allocator: { ...DEFAULTS.allocator, ...conf.allocator },
    netnsPinDirs: conf.netnsPinDirs ?? DEFAULTS.netnsPinDirs,
    usernsPinDir: conf.usernsPinDir ?? DEFAULTS.usernsPinDir,
    dataDir: conf.dataDir ?? DEFAULTS.dataDir,
    existingNetns: conf.existingNetns ?? DEFAULTS.existingNetns,
    lockTimeoutMs: conf.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs,
    logFile: conf.logFile,
    logLevel: conf.logLevel ?? DEFAULTS.logLevel,
  };
}
