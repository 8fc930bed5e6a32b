// Where a new user namespace's mapping comes from, in this precedence:
//   1. runtimeConfig.idMappings (capability "idMappings"; cnitool: CAP_ARGS)
//   2. CNI_ARGS USERNS_UID_MAP / USERNS_GID_MAP
//   3. the static idMappings of the plugin config
//   4. otherwise the allocator (see allocator.ts), decided by the caller.
// Only a gid map: error. Only a uid map: the gid map equals it.
import { CniError, ErrorCode, show } from '../cni/errors';
import type { CniEnv } from '../cni/env';
import type { PluginConfig } from '../config/netconf';
import { describeError } from '../config/schema-errors';
import { validateIdMappings } from '../generated/validators';
import { type IdMappings, type IdMapRange, validateMappings } from '../ns';
import { parseMapArg } from './parse-cni-args';

export type MappingSource = 'runtimeConfig' | 'cniArgs' | 'config';

export interface ResolvedMapping {
  mappings: IdMappings;
  source: MappingSource;
}

function complete(uid: IdMapRange[] | undefined, gid: IdMapRange[] | undefined, where: string, code: number): IdMappings {
  if (!uid && gid) throw new CniError(code, `${where}: a gid mapping was given without a uid mapping`);
  const m = { uidMappings: uid!, gidMappings: gid ?? uid!.map((r) => ({ ...r })) };
  try {
    validateMappings(m);
  } catch (err) {
    throw new CniError(code, `${where}: ${(err as Error).message}`, { cause: err });
  }
  return m;
}

function fromObject(doc: unknown, where: string, code: number): IdMappings {
  if (doc !== null && typeof doc === 'object' && !('uidMappings' in doc) && 'gidMappings' in doc) {
    throw new CniError(code, `${where}: a gid mapping was given without a uid mapping`);
  }
  if (!validateIdMappings(doc)) {
    const first = validateIdMappings.errors?.[0];
    throw new CniError(code, first ? describeError(first, where) : `${where}: invalid (got ${show(doc)})`);
  }
  const m = doc as { uidMappings: IdMapRange[]; gidMappings?: IdMapRange[] };
  return complete(m.uidMappings, m.gidMappings, where, code);
}

/** The explicit mapping for this ADD, or undefined when the allocator must provide one. */
export function resolveExplicitMapping(conf: PluginConfig, env: CniEnv): ResolvedMapping | undefined {
  const rc = conf.raw.runtimeConfig;
  if (rc && rc.idMappings !== undefined) {
    return { mappings: fromObject(rc.idMappings, 'runtimeConfig.idMappings', ErrorCode.InvalidNetworkConfig), source: 'runtimeConfig' };
  }
  const uidArg = env.argsMap.get('USERNS_UID_MAP');
  const gidArg = env.argsMap.get('USERNS_GID_MAP');
  if (uidArg !== undefined || gidArg !== undefined) {
    const uid = uidArg === undefined ? undefined : parseMapArg('USERNS_UID_MAP', uidArg);
    const gid = gidArg === undefined ? undefined : parseMapArg('USERNS_GID_MAP', gidArg);
    // Name the keys and values given, so an error points at the exact string to fix.
    const given = [uidArg !== undefined && `USERNS_UID_MAP=${show(uidArg)}`, gidArg !== undefined && `USERNS_GID_MAP=${show(gidArg)}`];
    return { mappings: complete(uid, gid, `CNI_ARGS ${given.filter(Boolean).join(' ')}`, ErrorCode.InvalidEnvironment), source: 'cniArgs' };
  }
  if (conf.idMappings) {
    return { mappings: fromObject(conf.idMappings, 'idMappings', ErrorCode.InvalidNetworkConfig), source: 'config' };
  }
  return undefined;
}
