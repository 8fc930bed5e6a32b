// What ADD and DEL do with a record left by an interrupted call, or one that cannot be read.
import type { AttachmentRecord } from '../generated/types';
import { CorruptRecord, isCorrupt } from '../state/record-store';
import { asCniError, CniError } from '../cni/errors';
import type { AttachmentContext } from './context';
import { prepareDelegate, runDelegate } from './delegate-runner';
import { removePin, teardown } from './teardown';
import { readFileNoFollow } from '../state/atomic-file';
import type { NamespaceRef } from '../generated/types';
import { allocatorEnv, releaseKey } from '../idmap/allocator';

/** Rolls back a leftover record (any phase), or releases what a corrupt one may have held. */
export async function clearLeftover(ctx: AttachmentContext, rec: AttachmentRecord | CorruptRecord): Promise<void> {
  if (!isCorrupt(rec)) return teardown(ctx, rec);
  // We cannot trust what it says: release the configured delegates' state without a netns
  // (IPAM frees by container id), remove the pins it names only where they prove to be ours
  // (token or journalled inode), then drop the file.
  ctx.log.error('corrupt-record', { file: rec.file, error: rec.error });
  const errors: CniError[] = [];
  for (const delegate of [...ctx.inv.conf.delegates].reverse()) {
    try {
      await runDelegate(ctx, 'DEL', await prepareDelegate(ctx, delegate), undefined);
    } catch (err) {
      errors.push(asCniError(err));
    }
  }
  for (const [ref, type] of salvagePins(rec.file)) {
    try {
      removePin(ref, type);
    } catch (err) {
      errors.push(asCniError(err));
    }
  }
  if (errors.length > 0) throw errors[0];
  ctx.store.delete(ctx.key);
  // Its id block, if it had one: the table knows it by key.
  await releaseKey(allocatorEnv(ctx.inv.conf, ctx.store, ctx.log), ctx.key);
}

/** The pin references a damaged record still holds whole, if any (each is a flat object). */
function salvagePins(file: string): Array<[NamespaceRef, 'net' | 'user']> {
  let text: string;
  try {
    text = readFileNoFollow(file)?.toString('utf8') ?? '';
  } catch {
    return [];
  }
  const out: Array<[NamespaceRef, 'net' | 'user']> = [];
  for (const [key, type] of [['netns', 'net'], ['userns', 'user']] as const) {
    const m = new RegExp(`"${key}":(\\{[^{}]*\\})`).exec(text);
    if (!m) continue;
    try {
      const ref = JSON.parse(m[1]!) as NamespaceRef;
      if (typeof ref.path === 'string' && ref.path.startsWith('/') && ref.pin !== 'none') out.push([ref, type]);
    } catch {
      // not even that part is readable
    }
  }
  return out;
}
