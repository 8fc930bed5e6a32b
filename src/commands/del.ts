// DEL: works from the record alone. Already gone, never added, repeated, empty CNI_NETNS,
// pin unmounted by hand: all succeed. A failed step keeps the record for the next DEL or GC.
import type { Invocation } from '../config/invocation';
import { msSinceProcessStart, startFields } from '../log/logger';
import { attachmentContext } from '../attachment/context';
import * as journal from '../attachment/journal';
import { clearLeftover } from '../attachment/leftover';
import { releaseKey } from '../idmap/allocator';
import { allocatorEnv } from '../idmap/store-records';

export async function cmdDel(inv: Invocation<'DEL'>): Promise<undefined> {
  const ctx = attachmentContext(inv);
  ctx.log.info('start', startFields());
  // DEL works from the record: what it ignored in the config is reported, never fatal.
  if (inv.conf.drift.length > 0) ctx.log.error('config-drift', { ignored: inv.conf.drift });
  // A read-only data dir still lets DEL release delegates and pins (see unlockedIfReadOnly).
  await ctx.store.withLock(ctx.key, { timeoutMs: inv.conf.lockTimeoutMs, unlockedIfReadOnly: true }, async (lock) => {
    const rec = ctx.store.get(ctx.key);
    if (rec === undefined) {
      journal.sweepInterruptedWrite(ctx);
      // An ADD killed between taking an id block and journalling its record.
      if (await releaseKey(allocatorEnv(inv.conf, ctx.store, ctx.log), ctx.key)) ctx.log.info('orphan-allocation-released');
      ctx.log.info('no-record');
      return;
    }
    await clearLeftover(ctx, rec);
    lock.removeOnRelease();
  });
  ctx.log.info('done', { totalMs: msSinceProcessStart(), maxRssKb: process.resourceUsage().maxRSS });
  return undefined;
}
