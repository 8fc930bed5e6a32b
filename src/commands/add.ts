// ADD: create (or adopt) the namespaces, run the delegates inside, persist, answer.
// Every side effect is written to the record before it happens (an intent journal), so a
// plugin killed at any instant leaves enough for DEL, GC or a retried ADD to roll back.
import { randomBytes } from '../sys/random';
import { CniError, ErrorCode, show } from '../cni/errors';
import type { Invocation } from '../cni/invocation';
import { convertResult } from '../cni/result-convert';
import type { AttachmentRecord } from '../generated/types';
import { resolveMapping } from '../idmap/mapping-for-add';
import { msSinceProcessStart, startupMarks } from '../log/logger';
import { createPinnedNamespaces } from '../ns';
import { currentBootId } from '../state/boot-id';
import { isCorrupt } from '../state/record-store';
import { attachmentContext, saveRecord, type AttachmentContext } from '../attachment/context';
import { prepareDelegate, runDelegate } from '../attachment/delegate-runner';
import { resolveNetnsTarget } from '../attachment/netns-target';
import { teardown } from '../attachment/teardown';
import { clearLeftover } from '../attachment/leftover';
import { failpoint } from '../attachment/failpoints';
import { findPlugin } from '../delegate';
import { resolveExplicitMapping } from '../idmap/resolve';
import { poolFromConfig } from '../idmap/pool';

export async function cmdAdd(inv: Invocation): Promise<unknown> {
  const ctx = attachmentContext(inv);
  ctx.log.info('start', { startupMs: msSinceProcessStart(), marks: startupMarks() });
  validateBeforeAnything(ctx);
  return ctx.store.withLock(ctx.key, { timeoutMs: inv.conf.lockTimeoutMs }, async (lock) => {
    const existing = ctx.store.get(ctx.key);
    if (existing !== undefined && !isCorrupt(existing) && existing.phase === 'ready') {
      throw new CniError(
        ErrorCode.AttachmentExists,
        `attachment ${show(`${ctx.key.network}/${ctx.key.containerId}/${ctx.key.ifname}`)} already exists (netns ${existing.netns.path}); DEL it first`,
      );
    }
    // A leftover of an interrupted ADD or DEL: finish its rollback before starting afresh.
    if (existing !== undefined) await clearLeftover(ctx, existing);
    else ctx.store.sweepTemp(ctx.key);

    const target = resolveNetnsTarget(inv.env.netns!, inv.conf);
    const now = new Date().toISOString();
    // Written into our pin files (journalled first): proof that a pin found later is ours.
    const pinToken = randomBytes(8).toString('hex');
    const rec: AttachmentRecord = {
      schemaVersion: 1,
      network: ctx.key.network,
      containerId: ctx.key.containerId,
      ifname: ctx.key.ifname,
      cniVersion: inv.conf.cniVersion,
      mode: target.mode,
      phase: 'adding',
      bootId: currentBootId(),
      createdAt: now,
      updatedAt: now,
      netns: target.mode === 'create' ? { path: target.netnsPin, pin: 'intent', token: pinToken } : { path: target.netnsPath, inode: target.netnsInode, pin: 'none' },
      userns: target.mode === 'create' ? { path: target.usernsPin, pin: 'intent', token: pinToken } : { path: '', inode: target.ownerInode, hostOwned: target.ownerIsHost, pin: 'none' },
      delegates: [],
    };
    let mapping: Awaited<ReturnType<typeof resolveMapping>> | undefined;
    if (target.mode === 'create') {
      mapping = await resolveMapping(ctx, rec);
      rec.mappings = mapping.mappings;
    }

    try {
      await failpoint('add-after-allocation');
      saveRecord(ctx, rec);
    } catch (err) {
      // Nothing exists yet but the id block (if any) and perhaps the record: the DEL path
      // gives both back.
      await teardown(ctx, rec).catch((e: Error) => ctx.log.error('rollback-incomplete', { error: e.message }));
      throw err;
    }
    try {
      await failpoint('add-after-intent');
      if (target.mode === 'create') {
        const end = ctx.log.step('namespaces');
        const ns = await createPinnedNamespaces({
          mappings: mapping!.mappings,
          netnsPin: target.netnsPin,
          usernsPin: target.usernsPin,
          loopbackUp: true,
          pinToken,
          // Journal the inodes before the mounts exist: a mount found later is ours only if it
          // shows the inode we recorded.
          beforePin: async ({ netnsInode, usernsInode }) => {
            rec.netns.inode = netnsInode;
            rec.userns.inode = usernsInode;
            saveRecord(ctx, rec);
            await failpoint('add-before-pin');
          },
        });
        end({ netnsInode: ns.netnsInode });
        rec.netns = { path: ns.netnsPin, inode: ns.netnsInode, pin: 'pinned', token: pinToken };
        rec.userns = { path: ns.usernsPin, inode: ns.usernsInode, hostOwned: false, pin: 'pinned', token: pinToken };
        await failpoint('add-after-pin');
      }

      let prev: Record<string, unknown> | undefined;
      for (const [i, delegate] of inv.conf.delegates.entries()) {
        const d = await prepareDelegate(ctx, delegate);
        const entry: AttachmentRecord['delegates'][number] = { type: d.type, cniVersion: d.cniVersion, state: 'intent', conf: d.conf };
        rec.delegates.push(entry);
        saveRecord(ctx, rec); // journal: this delegate may have run from now on
        await failpoint(`add-before-delegate-${i}`);
        const end = ctx.log.step('delegate-add');
        prev = await runDelegate(ctx, 'ADD', d, rec.netns.path, prev);
        end({ delegate: d.type });
        entry.state = 'added';
        entry.result = prev;
        await failpoint(`add-after-delegate-${i}`);
      }

      const result = convertResult(prev ?? { cniVersion: inv.conf.cniVersion }, inv.conf.cniVersion);
      // The runtime knows the netns by the path it gave us (we may pin at its real path).
      for (const itf of (result.interfaces ?? []) as Array<Record<string, unknown>>) {
        if (itf.sandbox === rec.netns.path) itf.sandbox = inv.env.netns;
      }
      rec.result = result as unknown as AttachmentRecord["result"];
      rec.phase = 'ready';
      const end = ctx.log.step('record');
      saveRecord(ctx, rec);
      end();
      await failpoint('add-after-record');
      ctx.log.info('done', { totalMs: msSinceProcessStart(), maxRssKb: process.resourceUsage().maxRSS });
      return result;
    } catch (err) {
      ctx.log.error('add-failed', { error: (err as Error).message });
      try {
        const last = rec.delegates.length - 1;
        await teardown(ctx, rec, { failedDelegate: last >= 0 && rec.delegates[last]!.state === 'intent' ? last : undefined });
        lock.removeOnRelease();
      } catch (rollbackErr) {
        // The record stays (phase "deleting"): the next DEL or GC finishes the rollback.
        ctx.log.error('rollback-incomplete', { error: (rollbackErr as Error).message });
      }
      throw err;
    }
  });
}

/**
 * Everything that can be checked without touching the host: a bad CNI_NETNS, mapping,
 * allocator setting or delegate type fails here, before any file, lock or namespace exists.
 * (Checked again under the lock where the answer can change meanwhile.)
 */
function validateBeforeAnything(ctx: AttachmentContext): void {
  const { conf, env } = ctx.inv;
  let target: ReturnType<typeof resolveNetnsTarget> | undefined;
  try {
    target = resolveNetnsTarget(env.netns!, conf);
  } catch (err) {
    // A killed ADD of this very attachment may have left its pin file there: the retry
    // clears that leftover under the lock first, then looks again.
    if (ctx.store.get(ctx.key) === undefined) throw err;
  }
  if (target?.mode !== 'adopt' && !resolveExplicitMapping(conf, env)) poolFromConfig(conf.allocator);
  for (const d of conf.delegates) findPlugin(String(d.type), ctx.cniPath);
}

export type { AttachmentContext };
