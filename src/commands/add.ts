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
import { createPinnedNamespaces, isLiveNetnsPin } from '../ns';
import { currentBootId } from '../state/boot-id';
import { isCorrupt } from '../state/record-store';
import { attachmentContext, saveRecord, type AttachmentContext } from '../attachment/context';
import { prepareDelegate, runDelegate, type PreparedDelegate } from '../attachment/delegate-runner';
import { canonicalNetnsPath, resolveNetnsTarget, type NetnsTarget } from '../attachment/netns-target';
import { withNetnsLock } from '../attachment/netns-lock';
import { notePinHolder, ourPinPairAt, pinCreator, usernsPinHolder } from '../attachment/pin-owners';
import { ownerPinIntent, pinAdoptedOwner } from '../attachment/adopt-owner';
import { applyPodSysctls } from '../attachment/pod-sysctls';
import { teardown } from '../attachment/teardown';
import { clearLeftover } from '../attachment/leftover';
import { failpoint, failpointNow } from '../attachment/failpoints';
import { findPlugin } from '../delegate';
import { resolveExplicitMapping } from '../idmap/resolve';
import { poolFromConfig } from '../idmap/pool';
import { allocatorEnv, shareBlock } from '../idmap/allocator';
import { looksLikeReservation } from '../ns/pins';

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

    const now = new Date().toISOString();
    // Written into our pin files (journalled first): proof that a pin found later is ours.
    const pinToken = randomBytes(8).toString('hex');
    let rec!: AttachmentRecord;
    // Which delegates this ADD started, and the one running when it failed: the record lists
    // every delegate as an intent from its first write on, but the rollback need not DEL those
    // it knows it never started.
    let started = 0;
    let running: number | undefined;
    const rollback = async (err: unknown): Promise<void> => {
      ctx.log.error('add-failed', { error: (err as Error).message });
      try {
        await teardown(ctx, rec, { failedDelegate: running, delegatesStarted: started });
        lock.removeOnRelease();
      } catch (rollbackErr) {
        // The record stays (phase "deleting"): the next DEL or GC finishes the rollback.
        ctx.log.error('rollback-incomplete', { error: (rollbackErr as Error).message });
      }
    };

    // Create or join, decided and done under the pin path's lock: of two ADDs of one new path,
    // one creates and the other then finds the pins and joins them; a teardown deciding
    // whether it is the last holder waits for us (see netns-lock.ts for the lock order).
    // Every delegate's intent goes into the record's first write: one durable write covers
    // them all (DEL of a delegate that never ran is a case every plugin must accept).
    const prepared: PreparedDelegate[] = [];
    for (const delegate of inv.conf.delegates) prepared.push(await prepareDelegate(ctx, delegate));

    await withNetnsLock(ctx, canonicalNetnsPath(inv.env.netns!), async () => {
      const target = resolveNetnsTarget(inv.env.netns!, inv.conf);
      rec = {
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
        delegates: prepared.map((d) => ({ type: d.type, cniVersion: d.cniVersion, state: 'intent' as const, conf: d.conf })),
      };
      if (target.mode === 'adopt') await joinPinsOfThisDataDir(ctx, rec, target);
      // A runtime's netns in a user namespace of its own, whose owner no record here pins yet.
      if (target.mode === 'adopt' && !target.ownerIsHost && rec.userns.pin === 'none') rec.userns = ownerPinIntent(target, inv.conf.usernsPinDir, pinToken);
      let mapping: Awaited<ReturnType<typeof resolveMapping>> | undefined;
      if (target.mode === 'create') {
        mapping = await resolveMapping(ctx, rec);
        rec.mappings = mapping.mappings;
      }

      try {
        await failpoint('add-after-allocation');
        // Create mode journals first when it knows the namespaces' inodes (beforePin below),
        // before any pin file exists: until then nothing but the id block and holder
        // processes that end by themselves exist, and DEL or GC of a key with no record gives
        // the block back.
        if (target.mode === 'adopt') {
          notePinHolder(ctx, rec); // pins it joins or will pin (the owner's), before the record names them
          saveRecord(ctx, rec);
        }
      } catch (err) {
        // Nothing exists yet but the id block (if any) and perhaps the record: the DEL path
        // gives both back.
        await teardown(ctx, rec).catch((e: Error) => ctx.log.error('rollback-incomplete', { error: e.message }));
        throw err;
      }
      try {
        await failpoint('add-after-intent');
        if (target.mode === 'create') {
          notePinHolder(ctx, rec); // before the record first names the pins
          const end = ctx.log.step('namespaces');
          const ns = await createPinnedNamespaces({
            mappings: mapping!.mappings,
            netnsPin: target.netnsPin,
            usernsPin: target.usernsPin,
            loopbackUp: true,
            pinToken,
            testHooks: { afterReservationCreated: (type) => failpointNow(`add-reserving-${type}ns-pin`) },
            // The first journal write: the pin token and the inodes before any pin file or mount
            // exists (a mount found later is ours only if it shows the inode we recorded, a file
            // only if it holds the token), and every delegate's intent.
            beforePin: async ({ netnsInode, usernsInode }) => {
              rec.netns.inode = netnsInode;
              rec.userns.inode = usernsInode;
              saveRecord(ctx, rec);
              await failpoint('add-before-pin');
            },
          });
          end({ netnsInode: ns.netnsInode, engine: ns.engine });
          rec.netns = { path: ns.netnsPin, inode: ns.netnsInode, pin: 'pinned', token: pinToken };
          rec.userns = { path: ns.usernsPin, inode: ns.usernsInode, hostOwned: false, pin: 'pinned', token: pinToken };
          await failpoint('add-after-pin');
        } else if (rec.userns.adopted && rec.userns.pin === 'intent') {
          const end = ctx.log.step('owner-pin');
          pinAdoptedOwner(rec);
          end({ usernsInode: rec.userns.inode });
          await failpoint('add-after-owner-pin');
        }
      } catch (err) {
        await rollback(err);
        throw err;
      }
    });
    try {
      // Inside the pinned (or adopted) netns, before any delegate sees it.
      applyPodSysctls(ctx, rec);
      await failpoint('add-after-sysctls');
      let prev: Record<string, unknown> | undefined;
      for (const [i, d] of prepared.entries()) {
        const entry = rec.delegates[i]!;
        await failpoint(`add-before-delegate-${i}`);
        const end = ctx.log.step('delegate-add');
        started = i + 1;
        running = i;
        prev = await runDelegate(ctx, 'ADD', d, rec.netns.path, prev, i);
        running = undefined;
        end({ delegate: d.type });
        // In memory only: the results reach the disk with the final write. A crash before it
        // leaves intents, whose DEL goes without prevResult - as libcni's after a lost cache.
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
      await rollback(err);
      throw err;
    }
  });
}

/**
 * Adopt mode on a netns whose pins a record of this data dir holds (another network's ADD
 * created it, or joined it): this record joins them - it names the same pins (path, inodes,
 * token) and the id block, so the pair stays while any of them lives and the last teardown
 * removes it. A pin pair of ours that no record here holds is refused: a damaged record (or
 * one removed by hand) left it, or another data dir's record owns it and would remove it.
 * The caller holds the netns lock.
 */
async function joinPinsOfThisDataDir(ctx: AttachmentContext, rec: AttachmentRecord, target: Extract<NetnsTarget, { mode: 'adopt' }>): Promise<void> {
  const path = canonicalNetnsPath(target.netnsPath);
  const creator = pinCreator(ctx, path, target.netnsInode, target.ownerInode);
  if (!creator) {
    const usernsPin = ourPinPairAt(target.netnsPath, target.ownerInode, ctx.inv.conf.usernsPinDir);
    if (usernsPin === undefined) return;
    // The owner of a runtime's netns, pinned by another adoption of this data dir: share it.
    const holder = usernsPinHolder(ctx, usernsPin, target.ownerInode);
    if (holder?.record.userns.adopted) {
      const { userns, mappings } = holder.record;
      rec.schemaVersion = 2;
      rec.joined = { ...holder.key };
      rec.userns = { path: userns.path, inode: userns.inode, hostOwned: false, adopted: true, pin: 'pinned', ...(userns.token ? { token: userns.token } : {}) };
      if (mappings) rec.mappings = mappings;
      ctx.log.info('owner-pin-joined', { userns: userns.path, holder: holder.key });
      return;
    }
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_NETNS: ${show(target.netnsPath)} is a netns pinned by userns-netns (its owner user namespace is pinned at ${usernsPin}) that no record in ${ctx.inv.conf.dataDir} holds: ` +
        'a damaged or hand-removed record left it, or an attachment of another data dir owns it and its DEL would remove it under this one; not adopted. ' +
        `If nothing uses it: umount -l ${target.netnsPath} && rm ${target.netnsPath} && umount -l ${usernsPin} && rm ${usernsPin}`,
    );
  }
  const { netns, userns, mappings, allocation } = creator.record;
  rec.schemaVersion = 2;
  rec.joined = { ...creator.key };
  rec.netns = { path: netns.path, inode: netns.inode, pin: 'pinned', ...(netns.token ? { token: netns.token } : {}) };
  rec.userns = { path: userns.path, inode: userns.inode, hostOwned: false, pin: 'pinned', ...(userns.token ? { token: userns.token } : {}) };
  if (mappings) rec.mappings = mappings;
  // The user namespace lives as long as the pins: its ids stay taken until the last record goes.
  if (allocation) {
    await shareBlock(allocatorEnv(ctx.inv.conf, ctx.store, ctx.log), ctx.key, allocation);
    rec.allocation = { ...allocation };
  }
  ctx.log.info('netns-joined', { netns: netns.path, creator: creator.key });
}

/**
 * Everything that can be checked without touching the host: a bad CNI_NETNS, mapping,
 * allocator setting or delegate type fails here, before any file, lock or namespace exists.
 * (Checked again under the lock where the answer can change meanwhile.)
 */
function validateBeforeAnything(ctx: AttachmentContext): void {
  const { conf, env } = ctx.inv;
  let target: ReturnType<typeof resolveNetnsTarget> | undefined;
  for (let look = 1; ; look++) {
    try {
      target = resolveNetnsTarget(env.netns!, conf);
      break;
    } catch (err) {
      // A killed ADD of this very attachment may have left its pin file there: the retry
      // clears that leftover under the lock first, then looks again.
      if (ctx.store.get(ctx.key) !== undefined) break;
      // Another network's ADD may be making a pin at this path right now: its reservation
      // file is left to the look under the netns lock; a netns mounted since we looked is
      // looked at again.
      if (looksLikeReservation(env.netns!)) break;
      if (look === 3 || !isLiveNetnsPin(env.netns!)) throw err;
    }
  }
  if (target?.mode !== 'adopt' && !resolveExplicitMapping(conf, env)) poolFromConfig(conf.allocator);
  for (const d of conf.delegates) findPlugin(String(d.type), ctx.cniPath);
}

export type { AttachmentContext };
