// ADD: create (or adopt) the namespaces, run the delegates inside, persist, answer.
// Every side effect is written to the record before it happens (an intent journal, whose
// steps and writes attachment/journal.ts lists), so a plugin killed at any instant leaves
// enough for DEL, GC or a retried ADD to roll back.
import { randomBytes } from '../sys/random';
import { CniError, ErrorCode, show } from '../cni/errors';
import type { Invocation } from '../config/invocation';
import { convertResult } from '../cni/result-convert';
import type { AttachmentRecord } from '../generated/types';
import { msSinceProcessStart, startFields } from '../log/logger';
import { createPinnedNamespaces, type IdMappings } from '../ns';
import type { LockHandle } from '../state/lock';
import { isCorrupt } from '../state/record-store';
import { attachmentContext, type AttachmentContext } from '../attachment/context';
import { delegateNetnsOf, prepareDelegate, runDelegate, type PreparedDelegate } from '../attachment/delegate-runner';
import * as journal from '../attachment/journal';
import { resolveMapping } from '../attachment/mapping-for-add';
import { canonicalNetnsPath, resolveNetnsTarget, type NetnsTarget } from '../attachment/netns-target';
import { withNetnsLock } from '../attachment/netns-lock';
import { ourPinPairAt, pinCreator, usernsPinHolder } from '../attachment/pin-owners';
import { ownerPinIntent, pinAdoptedOwner } from '../attachment/adopt-owner';
import { applyPodSysctls } from '../attachment/pod-sysctls';
import { refuseMarkedDelegatesOnHostOwned } from '../attachment/pod-userns';
import { teardown } from '../attachment/teardown';
import { clearLeftover } from '../attachment/leftover';
import { shareBlock } from '../idmap/allocator';
import { allocatorEnv } from '../idmap/store-records';
import { preflightAdd } from '../attachment/preflight';

export async function cmdAdd(inv: Invocation<'ADD'>): Promise<unknown> {
  const ctx = attachmentContext(inv);
  ctx.log.info('start', startFields());
  preflightAdd(ctx, inv);
  return ctx.store.withLock(ctx.key, { timeoutMs: inv.conf.lockTimeoutMs }, async (lock) => {
    await refuseDuplicateOrClearLeftover(ctx);
    const delegates = await prepareDelegates(ctx);
    const attempt: Attempt = { started: 0 };
    try {
      // Create or join, decided and done under the pin path's lock: of two ADDs of one new
      // path, one creates and the other then finds the pins and joins them; a teardown
      // deciding whether it is the last holder waits for us (see netns-lock.ts for the order).
      const rec = await withNetnsLock(ctx, canonicalNetnsPath(inv.env.netns), () => createOrJoinNamespaces(ctx, inv.env.netns, delegates, attempt));
      applyPodSysctls(ctx, rec); // inside the pinned (or adopted) netns, before any delegate sees it
      await journal.sysctlsApplied();
      const chainResult = await addDelegates(ctx, rec, delegates, attempt);
      const result = answerFor(ctx, rec, chainResult);
      await journal.ready(ctx, rec, result);
      ctx.log.info('done', { totalMs: msSinceProcessStart(), maxRssKb: process.resourceUsage().maxRSS });
      return result;
    } catch (err) {
      if (attempt.rec) await rollBack(ctx, attempt, lock, err);
      throw err;
    }
  });
}

/**
 * What this ADD did so far, for its rollback: the record (once it holds ids or a side effect
 * may follow), the delegates it started and the one running when it failed. The record lists
 * every delegate as an intent from its first write on, but the rollback need not DEL those it
 * knows it never started.
 */
interface Attempt {
  rec?: AttachmentRecord;
  started: number;
  running?: number;
}

/** A ready record: a duplicate ADD, refused. Any other: the leftover of an interrupted ADD or DEL, rolled back before starting afresh. */
async function refuseDuplicateOrClearLeftover(ctx: AttachmentContext): Promise<void> {
  const existing = ctx.store.get(ctx.key);
  if (existing !== undefined && !isCorrupt(existing) && existing.phase === 'ready') {
    throw new CniError(ErrorCode.AttachmentExists, `attachment ${show(`${ctx.key.network}/${ctx.key.containerId}/${ctx.key.ifname}`)} already exists (netns ${existing.netns.path}); DEL it first`);
  }
  if (existing !== undefined) await clearLeftover(ctx, existing);
  else journal.sweepInterruptedWrite(ctx);
}

/** Every delegate, its version chosen: all of them become intents in the record's first write. */
async function prepareDelegates(ctx: AttachmentContext): Promise<PreparedDelegate[]> {
  const prepared: PreparedDelegate[] = [];
  for (const delegate of ctx.inv.conf.delegates) prepared.push(await prepareDelegate(ctx.delegateCall, delegate));
  return prepared;
}

/** Under the netns lock: the record begun, its ids taken, journalled, the namespaces made or joined and pinned. */
async function createOrJoinNamespaces(ctx: AttachmentContext, netns: string, delegates: PreparedDelegate[], attempt: Attempt): Promise<AttachmentRecord> {
  const target = resolveNetnsTarget(netns, ctx.inv.conf);
  if (target.mode === 'adopt' && target.ownerIsHost) refuseMarkedDelegatesOnHostOwned(ctx.inv.conf.delegates, target.netnsPath);
  // Written into our pin files (journalled first): proof that a pin found later is ours.
  const pinToken = randomBytes(8).toString('hex');
  const rec = journal.begin(ctx, target, delegates, pinToken);
  const mappings = await choosePinsAndIds(ctx, rec, target, pinToken);
  attempt.rec = rec; // the ids may be taken: from here on a failure rolls back
  await journal.idsTaken();
  await journal.intent(ctx, rec);
  if (target.mode === 'create') await createNamespaces(ctx, rec, target, mappings!, pinToken);
  else if (rec.userns.adopted && rec.userns.pin === 'intent') await pinOwner(ctx, rec);
  return rec;
}

/**
 * Adopt mode: the pins of this data dir it joins, or its owner's pin as an intent. Create mode:
 * the mapping (returned), in the allocation table before the record's first write.
 */
async function choosePinsAndIds(ctx: AttachmentContext, rec: AttachmentRecord, target: NetnsTarget, pinToken: string): Promise<IdMappings | undefined> {
  if (target.mode === 'create') {
    const { mappings } = await resolveMapping(ctx, rec);
    rec.mappings = mappings;
    return mappings;
  }
  await joinPinsOfThisDataDir(ctx, rec, target);
  // A runtime's netns in a user namespace of its own, whose owner no record here pins yet.
  if (!target.ownerIsHost && rec.userns.pin === 'none') rec.userns = ownerPinIntent(target, ctx.inv.conf.usernsPinDir, pinToken);
}

/** Create mode: both namespaces made and pinned; the record's first write comes when their inodes are known, before any pin file. */
async function createNamespaces(ctx: AttachmentContext, rec: AttachmentRecord, target: Extract<NetnsTarget, { mode: 'create' }>, mappings: IdMappings, pinToken: string): Promise<void> {
  const end = ctx.log.step('namespaces');
  const ns = await createPinnedNamespaces({
    mappings,
    netnsPin: target.netnsPin,
    usernsPin: target.usernsPin,
    loopbackUp: true,
    pinToken,
    testHooks: { afterReservationCreated: journal.reservingPin },
    beforePin: (inodes) => journal.inodesKnown(ctx, rec, inodes),
  });
  end({ netnsInode: ns.netnsInode, engine: ns.engine });
  await journal.pinned(rec, ns, pinToken);
}

/** Adopt mode: the owner user namespace of the runtime's netns pinned (journalled as an intent first). */
async function pinOwner(ctx: AttachmentContext, rec: AttachmentRecord): Promise<void> {
  const end = ctx.log.step('owner-pin');
  pinAdoptedOwner(rec);
  end({ usernsInode: rec.userns.inode });
  await journal.ownerPinned();
}

/** The sub-chain's ADDs in order, each given the previous result; returns the last one. */
async function addDelegates(ctx: AttachmentContext, rec: AttachmentRecord, delegates: PreparedDelegate[], attempt: Attempt): Promise<Record<string, unknown> | undefined> {
  let prev: Record<string, unknown> | undefined;
  for (const [i, d] of delegates.entries()) {
    await journal.delegateIntended(i);
    const end = ctx.log.step('delegate-add');
    attempt.started = i + 1;
    attempt.running = i;
    prev = await runDelegate(ctx.delegateCall, 'ADD', d, delegateNetnsOf(rec), prev, i);
    attempt.running = undefined;
    end({ delegate: d.type });
    await journal.delegateAdded(rec, i, prev);
  }
  return prev;
}

/** The chain's result in the config's version, naming the netns by the path the runtime gave us (we may pin at its real path). */
function answerFor(ctx: AttachmentContext, rec: AttachmentRecord, chainResult: Record<string, unknown> | undefined) {
  const result = convertResult(chainResult ?? { cniVersion: ctx.inv.conf.cniVersion }, ctx.inv.conf.cniVersion);
  for (const itf of (result.interfaces ?? []) as Array<Record<string, unknown>>) {
    if (itf.sandbox === rec.netns.path) itf.sandbox = ctx.inv.env.netns;
  }
  return result;
}

/** Undoes this ADD through the one DEL path; if that fails too, the record stays (phase "deleting") for the next DEL or GC. */
async function rollBack(ctx: AttachmentContext, attempt: Attempt, lock: LockHandle, err: unknown): Promise<void> {
  ctx.log.error('add-failed', { error: (err as Error).message });
  try {
    await teardown(ctx, attempt.rec!, { failedDelegate: attempt.running, delegatesStarted: attempt.started });
    lock.removeOnRelease();
  } catch (rollbackErr) {
    ctx.log.error('rollback-incomplete', { error: (rollbackErr as Error).message });
  }
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

export type { AttachmentContext };
