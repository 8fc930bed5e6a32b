// CHECK: what we made is still what we recorded (verify(): pins, inodes, ownership, boot), then each
// delegate's own CHECK, in order, with the recorded result as prevResult.
import { realpathSync } from 'node:fs';
import { CniError, ErrorCode, show } from '../cni/errors';
import type { Invocation } from '../config/invocation';
import type { AttachmentRecord } from '../generated/types';
import { isCorrupt } from '../state/record-store';
import { attachmentContext, chainResult } from '../attachment/context';
import { delegateNetnsOf, runDelegate } from '../attachment/delegate-runner';
import { startFields } from '../log/logger';
import { verify } from '../attachment/verify';

function mismatch(msg: string): CniError {
  return new CniError(ErrorCode.NamespaceFailure, `CHECK: ${msg}`);
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return a === b;
  }
}

/** CHECK of `rec` at CNI_NETNS: the runtime's path must be the recorded netns, and verify() find nothing wrong. */
function checkRecord(rec: AttachmentRecord, netnsArg: string): void {
  if (!samePath(netnsArg, rec.netns.path)) {
    throw mismatch(`CNI_NETNS ${show(netnsArg)} is not the recorded netns ${show(rec.netns.path)}`);
  }
  const { problems } = verify(rec);
  if (problems.length > 0) throw mismatch(problems.join('; '));
}

export async function cmdCheck(inv: Invocation<'CHECK'>): Promise<undefined> {
  const ctx = attachmentContext(inv);
  ctx.log.info('start', startFields());
  const name = show(`${ctx.key.network}/${ctx.key.containerId}/${ctx.key.ifname}`);
  const unknown = () => new CniError(ErrorCode.UnknownContainer, `CHECK: no attachment ${name}`);
  // CHECK writes nothing: no record, no lock file (nor data dir) created just to say so.
  if (ctx.store.get(ctx.key) === undefined) throw unknown();
  await ctx.store.withLock(ctx.key, { timeoutMs: inv.conf.lockTimeoutMs, unlockedIfReadOnly: true }, async () => {
    const rec = ctx.store.get(ctx.key);
    if (rec === undefined) throw unknown();
    if (isCorrupt(rec)) throw new CniError(ErrorCode.StateFailure, `CHECK: the record of ${name} is damaged: ${rec.error}`);
    if (rec.phase !== 'ready') throw new CniError(ErrorCode.UnknownContainer, `CHECK: attachment ${name} is not ready (phase ${rec.phase})`);
    checkRecord(rec, inv.env.netns);
    const prev = chainResult(rec) ?? rec.result;
    for (const d of rec.delegates) await runDelegate(ctx.delegateCall, 'CHECK', d, delegateNetnsOf(rec), prev);
  });
  return undefined;
}
