// The mapping for a create-mode ADD: an explicit one (resolve.ts), else the allocator's.
import { CniError, ErrorCode } from '../cni/errors';
import type { AttachmentRecord } from '../generated/types';
import type { IdMappings } from '../ns';
import type { AttachmentContext } from '../attachment/context';
import { resolveExplicitMapping, type MappingSource } from './resolve';

export async function resolveMapping(ctx: AttachmentContext, _rec: AttachmentRecord): Promise<{ mappings: IdMappings; source: MappingSource | 'allocator' }> {
  const explicit = resolveExplicitMapping(ctx.inv.conf, ctx.inv.env);
  if (explicit) return explicit;
  throw new CniError(
    ErrorCode.InvalidNetworkConfig,
    'idMappings: no uid/gid mapping for the new user namespace: set "idMappings" in the config, CNI_ARGS USERNS_UID_MAP, or runtimeConfig.idMappings',
  );
}
