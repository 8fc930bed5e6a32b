// What ADD and DEL do with a record left by an interrupted call, or one that cannot be read.
import type { AttachmentRecord } from '../generated/types';
import { CorruptRecord, isCorrupt } from '../state/record-store';
import { asCniError, CniError } from '../cni/errors';
import type { AttachmentContext } from './context';
import { prepareDelegate, runDelegate } from './delegate-runner';
import { teardown } from './teardown';

/** Rolls back a leftover record (any phase), or releases what a corrupt one may have held. */
export async function clearLeftover(ctx: AttachmentContext, rec: AttachmentRecord | CorruptRecord): Promise<void> {
  if (!isCorrupt(rec)) return teardown(ctx, rec);
  // We cannot tell what it held: release the configured delegates' state without a netns
  // (IPAM frees by container id), then drop the file. Our pins, if any, are left to GC,
  // which only removes pins no record owns.
  ctx.log.error('corrupt-record', { file: rec.file, error: rec.error });
  const errors: CniError[] = [];
  for (const delegate of [...ctx.inv.conf.delegates].reverse()) {
    try {
      await runDelegate(ctx, 'DEL', await prepareDelegate(ctx, delegate), undefined);
    } catch (err) {
      errors.push(asCniError(err));
    }
  }
  if (errors.length > 0) throw errors[0];
  ctx.store.delete(ctx.key);
}
