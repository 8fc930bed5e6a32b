// Frees the ids a record holds in the allocation table (its block, or its explicit mapping's
// entry). Called by teardown.ts once the record is deleted (and by ADD before its
// first journal write), so DEL, rollback and GC - every path that tears down - release it.
import type { AttachmentContext } from './context';
import type { AttachmentRecord } from '../generated/types';
import { releaseBlock } from '../idmap/allocator';
import { allocatorEnv } from '../idmap/store-records';

export async function releaseAllocation(rec: AttachmentRecord, ctx: AttachmentContext): Promise<void> {
  if (!rec.allocation && !rec.mappings) return; // adopt mode: nothing in the table
  await releaseBlock(allocatorEnv(ctx.inv.conf, ctx.store, ctx.log), rec);
}
