// Frees the block a record holds. Called by attachment/teardown.ts (and by ADD before its
// first journal write), so DEL, rollback and GC - every path that tears down - release it.
import type { AttachmentContext } from '../attachment/context';
import type { AttachmentRecord } from '../generated/types';
import { allocatorEnv, releaseBlock } from './allocator';

export async function releaseAllocation(rec: AttachmentRecord, ctx: AttachmentContext): Promise<void> {
  if (!rec.allocation) return; // explicit mapping or adopt mode: nothing of ours to free
  await releaseBlock(allocatorEnv(ctx.inv.conf, ctx.store, ctx.log), rec);
}
