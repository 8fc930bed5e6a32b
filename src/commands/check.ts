// CHECK: what we made is still what we recorded (pins, inodes, ownership), then each
// delegate's own CHECK, in order, with the recorded result as prevResult.
import { realpathSync } from 'node:fs';
import { CniError, ErrorCode, show } from '../cni/errors';
import type { Invocation } from '../cni/invocation';
import type { AttachmentRecord } from '../generated/types';
import { inspectNamespace } from '../ns';
import { isCorrupt } from '../state/record-store';
import { attachmentContext, chainResult } from '../attachment/context';
import { delegateNetnsOf, runDelegate } from '../attachment/delegate-runner';

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

export function verifyNamespaces(rec: AttachmentRecord, netnsArg?: string): void {
  if (netnsArg !== undefined && !samePath(netnsArg, rec.netns.path)) {
    throw mismatch(`CNI_NETNS ${show(netnsArg)} is not the recorded netns ${show(rec.netns.path)}`);
  }
  const net = inspectNamespace(rec.netns.path);
  if (!net.isNsfsMount || net.nsType !== 'net') throw mismatch(`${rec.netns.path} is no longer a network namespace`);
  if (net.inode !== rec.netns.inode) throw mismatch(`${rec.netns.path} holds netns inode ${net.inode}, recorded ${rec.netns.inode}`);
  if (net.owner?.inode !== rec.userns.inode) {
    throw mismatch(`netns ${rec.netns.path} is owned by user namespace ${net.owner?.inode}, recorded ${rec.userns.inode}`);
  }
  if (rec.userns.pin !== 'none') { // create mode, or pins joined from another record
    const user = inspectNamespace(rec.userns.path);
    if (!user.isNsfsMount || user.nsType !== 'user') throw mismatch(`user namespace pin ${rec.userns.path} is gone`);
    if (user.inode !== rec.userns.inode) throw mismatch(`${rec.userns.path} holds user namespace ${user.inode}, recorded ${rec.userns.inode}`);
  }
}

export async function cmdCheck(inv: Invocation): Promise<undefined> {
  const ctx = attachmentContext(inv);
  const name = show(`${ctx.key.network}/${ctx.key.containerId}/${ctx.key.ifname}`);
  const unknown = () => new CniError(ErrorCode.UnknownContainer, `CHECK: no attachment ${name}`);
  // CHECK writes nothing: no record, no lock file (nor data dir) created just to say so.
  if (ctx.store.get(ctx.key) === undefined) throw unknown();
  await ctx.store.withLock(ctx.key, { timeoutMs: inv.conf.lockTimeoutMs, unlockedIfReadOnly: true }, async () => {
    const rec = ctx.store.get(ctx.key);
    if (rec === undefined) throw unknown();
    if (isCorrupt(rec)) throw new CniError(ErrorCode.StateFailure, `CHECK: the record of ${name} is damaged: ${rec.error}`);
    if (rec.phase !== 'ready') throw new CniError(ErrorCode.UnknownContainer, `CHECK: attachment ${name} is not ready (phase ${rec.phase})`);
    verifyNamespaces(rec, inv.env.netns);
    const prev = chainResult(rec) ?? rec.result;
    for (const d of rec.delegates) await runDelegate(ctx.delegateCall, 'CHECK', d, delegateNetnsOf(rec), prev);
  });
  return undefined;
}
