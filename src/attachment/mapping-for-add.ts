// The mapping for a create-mode ADD: an explicit one (idmap/resolve.ts), else one block from the
// allocator. Either lands in the allocation table (an explicit one as its host ranges, so the
// allocator keeps clear of it) before add.ts journals the record and creates the namespace.
import type { AttachmentRecord } from '../generated/types';
import type { IdMappings } from '../ns';
import type { AttachmentContext } from './context';
import { allocateBlock, recordExplicit } from '../idmap/allocator';
import { poolFromConfig } from '../idmap/pool';
import { resolveExplicitMapping, type MappingSource } from '../idmap/resolve';
import { refuseSharedRanges } from '../idmap/shared-ranges';
import { allocatorEnv } from '../idmap/store-records';

export async function resolveMapping(ctx: AttachmentContext, rec: AttachmentRecord): Promise<{ mappings: IdMappings; source: MappingSource | 'allocator' }> {
  const conf = ctx.inv.conf;
  const env = allocatorEnv(conf, ctx.store, ctx.log);
  const explicit = resolveExplicitMapping(conf, ctx.inv.env);
  if (explicit) {
    // The overlap check and the table entry in one table update: an allocation running at
    // the same time either is in the table when we look, or sees our entry.
    const check = conf.allocator.allowSharedRanges ? undefined : (held: Parameters<typeof refuseSharedRanges>[2]) => refuseSharedRanges(explicit.mappings, explicit.source, held);
    await recordExplicit(env, ctx.key, explicit.mappings, check);
    rec.mappings = explicit.mappings;
    return explicit;
  }
  const pool = poolFromConfig(conf.allocator);
  for (const warning of pool.warnings) ctx.log.error('subid-file', { warning });
  const end = ctx.log.step('allocate');
  const a = await allocateBlock(env, ctx.key, pool);
  end({ pool: a.pool, hostID: a.hostID, size: a.size, reused: a.reused });
  rec.allocation = { pool: a.pool, hostID: a.hostID, size: a.size };
  const range = { containerID: 0, hostID: a.hostID, size: a.size };
  return { mappings: { uidMappings: [range], gidMappings: [{ ...range }] }, source: 'allocator' };
}
