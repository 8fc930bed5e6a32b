// The mapping for a create-mode ADD: an explicit one (resolve.ts), else one block from the
// allocator. The allocation lands in `rec.allocation` and in the allocation table before
// add.ts journals the record and creates the namespace.
import type { AttachmentRecord } from '../generated/types';
import type { IdMappings } from '../ns';
import type { AttachmentContext } from '../attachment/context';
import { allocateBlock, allocatorEnv, blocksHeldByOthers, underTableLock } from './allocator';
import { saveRecord } from '../attachment/context';
import { poolFromConfig } from './pool';
import { resolveExplicitMapping, type MappingSource } from './resolve';
import { refuseSharedRanges } from './shared-ranges';

export async function resolveMapping(ctx: AttachmentContext, rec: AttachmentRecord): Promise<{ mappings: IdMappings; source: MappingSource | 'allocator' }> {
  const conf = ctx.inv.conf;
  const env = allocatorEnv(conf, ctx.store, ctx.log);
  const explicit = resolveExplicitMapping(conf, ctx.inv.env);
  if (explicit) {
    if (!conf.allocator.allowSharedRanges) {
      // Under the table lock, and journalled before it is released: an allocation running
      // at the same time either is in the table when we look, or sees our record's range.
      await underTableLock(env, () => {
        refuseSharedRanges(explicit.mappings, explicit.source, blocksHeldByOthers(env, ctx.key));
        rec.mappings = explicit.mappings;
        saveRecord(ctx, rec);
      });
    }
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
