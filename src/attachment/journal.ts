// The intent journal: the attachment record under <dataDir>/records, and the only module that
// writes it. Every side effect outside this process is written down before it happens, so a
// plugin killed at any instant leaves a record (or an allocation-table entry) from which DEL, GC
// or a retried ADD finishes the rollback - teardown.ts, the one undo path, works from it alone.
//
// Each transition below is one durable write (temp file, fsync, rename, fsync of the dir) or
// says that it is in memory only, and is followed by its failpoint: the crash tests kill or fail
// the plugin there, looping over the names listed here (ADD_FAILPOINTS, delegateFailpoints,
// DEL_FAILPOINTS). One ADD makes exactly 2 record writes: `intent` (adopt) or `inodesKnown`
// (create), then `ready`.
//
// ADD, in order                  write          a crash after it leaves / who finishes it
//  begin                         memory         nothing yet
//  idsTaken (add-after-allocation) memory       an allocation-table entry with no record (the
//                                               allocator's own durable write): DEL without a
//                                               record releases it by key, GC sweeps it, a
//                                               retried ADD gets the same block back
//  intent (add-after-intent)     adopt: 1st     adopt: the pins it joins or will pin (the
//                                create: memory owner's, with token and inode) and every
//                                               delegate's intent; DEL, GC or a retried ADD
//                                               tear down from it (pin-holders index first)
//  inodesKnown (add-before-pin)  create: 1st    the token and both inodes before any pin file or
//                                               mount exists (a mount found later is ours only if
//                                               it shows a journalled inode, a file only if it
//                                               holds the token), every delegate's intent; the
//                                               holder processes end by themselves
//  reservingPin (add-reserving-{net,user}ns-pin) memory   a pin's temporary reservation file,
//                                               named by the token: removed by the teardown
//  pinned (add-after-pin)        memory         pins the record proves ours by inode and token
//  ownerPinned (add-after-owner-pin) memory     adopt: the owner's pin, proven the same way
//  sysctlsApplied (add-after-sysctls) memory    nothing outside the netns
//  delegateIntended (add-before-delegate-N) memory  the intent is in the first write: its DEL
//                                               is one every plugin must accept
//  delegateAdded (add-after-delegate-N) memory  the intent, whose DEL goes without prevResult
//                                               (as libcni's after a lost cache)
//  ready (add-after-record)      2nd            a complete attachment whose answer was lost: a
//                                               retried ADD is refused as a duplicate, DEL removes
//
// Teardown (DEL, ADD's rollback, GC, a leftover cleared by ADD or DEL):
//  deleting                      best effort    phase "deleting": whatever the teardown did not
//                                               finish, the next DEL or GC redoes (all steps are
//                                               idempotent; a failed write does not stop them)
//  delegatesDeleted (del-after-delegates) memory  the record as it was: DEL again
//  unpinned (del-after-unpin)    memory         the same
//  forget (del-before-record-delete, then the record removed durably) - then the ids are
//                                               released (release-ids.ts): killed in between, an
//                                               orphan table entry, released as after idsTaken
import type { AttachmentRecord } from '../generated/types';
import { currentBootId } from '../state/boot-id';
import { sweepTempFiles } from '../state/atomic-file';
import type { RecordStore } from '../state/record-store';
import type { AttachmentContext } from './context';
import type { PreparedDelegate } from './delegate-runner';
import { failpoint, failpointNow } from './failpoints';
import type { NetnsTarget } from './netns-target';
import { dropPinHolderOf, notePinHolder } from './pin-owners';

/** ADD's failpoints other than the per-delegate ones, in the order an ADD passes them. */
export const ADD_FAILPOINTS = ['add-after-allocation', 'add-after-intent', 'add-before-pin', 'add-reserving-netns-pin', 'add-reserving-userns-pin', 'add-after-pin', 'add-after-owner-pin', 'add-after-sysctls', 'add-after-record'] as const;

/** Passed only by a create-mode ADD, or only by an adopt-mode ADD that pins the owner. */
const CREATE_ONLY: ReadonlySet<string> = new Set(['add-reserving-netns-pin', 'add-reserving-userns-pin', 'add-before-pin', 'add-after-pin']);
const ADOPT_ONLY: ReadonlySet<string> = new Set(['add-after-owner-pin']);

export type DelegateFailpoint = `add-before-delegate-${number}` | `add-after-delegate-${number}`;
export type AddFailpoint = (typeof ADD_FAILPOINTS)[number] | DelegateFailpoint;

/** The two failpoints around delegate `i`'s ADD (0-based, in the config's order). */
export function delegateFailpoints(i: number): [DelegateFailpoint, DelegateFailpoint] {
  return [`add-before-delegate-${i}`, `add-after-delegate-${i}`];
}

export const DEL_FAILPOINTS = ['del-after-delegates', 'del-after-unpin', 'del-before-record-delete'] as const;
export type DelFailpoint = (typeof DEL_FAILPOINTS)[number];
export type FailpointName = AddFailpoint | DelFailpoint;

/** Every failpoint an ADD of `mode` with `delegates` delegates passes, in order. */
export function addFailpoints(mode: 'create' | 'adopt', delegates: number): AddFailpoint[] {
  const skip = mode === 'create' ? ADOPT_ONLY : CREATE_ONLY;
  const before = ADD_FAILPOINTS.filter((p) => p !== 'add-after-record' && !skip.has(p));
  return [...before, ...Array.from({ length: delegates }, (_, i) => delegateFailpoints(i)).flat(), 'add-after-record'];
}

/** One durable journal write, with a fresh updatedAt. */
function write(ctx: AttachmentContext, rec: AttachmentRecord): void {
  rec.updatedAt = new Date().toISOString();
  ctx.store.put(ctx.key, rec);
}

/** In memory only: the record as this ADD intends it - pins as intents with `pinToken`, every delegate as an intent. */
export function begin(ctx: AttachmentContext, target: NetnsTarget, delegates: PreparedDelegate[], pinToken: string): AttachmentRecord {
  const now = new Date().toISOString();
  return {
    schemaVersion: 1,
    network: ctx.key.network,
    containerId: ctx.key.containerId,
    ifname: ctx.key.ifname,
    cniVersion: ctx.inv.conf.cniVersion,
    mode: target.mode,
    phase: 'adding',
    bootId: currentBootId(),
    createdAt: now,
    updatedAt: now,
    netns: target.mode === 'create' ? { path: target.netnsPin, pin: 'intent', token: pinToken } : { path: target.netnsPath, inode: target.netnsInode, pin: 'none' },
    userns: target.mode === 'create' ? { path: target.usernsPin, pin: 'intent', token: pinToken } : { path: '', inode: target.ownerInode, hostOwned: target.ownerIsHost, pin: 'none' },
    delegates: delegates.map((d) => ({ type: d.type, cniVersion: d.cniVersion, state: 'intent' as const, conf: d.conf, ...(d.runInPodUserns ? { runInPodUserns: true } : {}) })),
  };
}

/** In memory only: the ids (if any) are in the allocation table, which the allocator wrote durably. */
export async function idsTaken(): Promise<void> {
  await failpoint('add-after-allocation');
}

/**
 * Adopt mode: the first write - the pins it joins or will pin (entered in the pin-holders index
 * first) and every delegate's intent. Create mode: in memory only; it first writes when it knows
 * the inodes (inodesKnown), until when nothing exists but the ids and holders that end by themselves.
 */
export async function intent(ctx: AttachmentContext, rec: AttachmentRecord): Promise<void> {
  if (rec.mode === 'adopt') {
    notePinHolder(ctx, rec);
    write(ctx, rec);
  }
  await failpoint('add-after-intent');
}

/** In memory only (the engine's synchronous hook): a pin's reservation file exists, named by the token. */
export function reservingPin(type: 'net' | 'user'): void {
  failpointNow(`add-reserving-${type}ns-pin`);
}

/** Create mode, the first write: both inodes and the token before any pin file exists (pin-holders index first). */
export async function inodesKnown(ctx: AttachmentContext, rec: AttachmentRecord, ids: { netnsInode: number; usernsInode: number }): Promise<void> {
  rec.netns.inode = ids.netnsInode;
  rec.userns.inode = ids.usernsInode;
  notePinHolder(ctx, rec);
  write(ctx, rec);
  await failpoint('add-before-pin');
}

/** In memory only: the record on disk already proves the pins ours (inodes, token). */
export async function pinned(rec: AttachmentRecord, ns: { netnsPin: string; netnsInode: number; usernsPin: string; usernsInode: number }, pinToken: string): Promise<void> {
  rec.netns = { path: ns.netnsPin, inode: ns.netnsInode, pin: 'pinned', token: pinToken };
  rec.userns = { path: ns.usernsPin, inode: ns.usernsInode, hostOwned: false, pin: 'pinned', token: pinToken };
  await failpoint('add-after-pin');
}

/** Adopt mode, in memory only: the owner's pin intent (token, inode) is in the first write. */
export async function ownerPinned(): Promise<void> {
  await failpoint('add-after-owner-pin');
}

/** In memory only: sysctls live inside the netns and go with it. */
export async function sysctlsApplied(): Promise<void> {
  await failpoint('add-after-sysctls');
}

/** In memory only: delegate `i`'s intent is in the first write. */
export async function delegateIntended(i: number): Promise<void> {
  await failpoint(delegateFailpoints(i)[0]);
}

/** In memory only: the result reaches the disk with `ready`. */
export async function delegateAdded(rec: AttachmentRecord, i: number, result: Record<string, unknown> | undefined): Promise<void> {
  const entry = rec.delegates[i]!;
  entry.state = 'added';
  entry.result = result;
  await failpoint(delegateFailpoints(i)[1]);
}

/** The second write: phase ready, every delegate's result and the answer ADD prints. */
export async function ready(ctx: AttachmentContext, rec: AttachmentRecord, result: object): Promise<void> {
  rec.result = result as unknown as AttachmentRecord['result'];
  rec.phase = 'ready';
  const end = ctx.log.step('record');
  write(ctx, rec);
  end();
  await failpoint('add-after-record');
}

/**
 * Teardown's first step: phase "deleting", written best effort. The record on disk already names
 * everything that may exist and every teardown step is idempotent, so a write that fails (no
 * space, a read-only data dir) must not stop the delegates' DEL, the unpin or the id release:
 * the next DEL redoes them from the older record.
 */
export function deleting(ctx: AttachmentContext, rec: AttachmentRecord): void {
  if (rec.phase === 'deleting') return;
  rec.phase = 'deleting';
  try {
    write(ctx, rec);
  } catch (err) {
    ctx.log.error('journal-write-skipped', { phase: rec.phase, error: (err as Error).message });
  }
}

/** In memory only: a DEL again redoes them. */
export async function delegatesDeleted(): Promise<void> {
  await failpoint('del-after-delegates');
}

/** In memory only: a DEL again finds the pins gone. */
export async function unpinned(): Promise<void> {
  await failpoint('del-after-unpin');
}

/** The record goes (durably), with this attachment's pin-holders entries. The ids go after it. */
export async function forget(ctx: AttachmentContext, rec: AttachmentRecord): Promise<void> {
  await failpoint('del-before-record-delete');
  dropPinHolderOf(ctx, rec); // (a record of an earlier boot, which took no part in the unpin)
  ctx.store.delete(ctx.key);
}

/** A record that cannot be read goes once what it may have held was released. */
export function forgetCorrupt(ctx: AttachmentContext): void {
  ctx.store.delete(ctx.key);
}

/** This attachment's record write killed before its rename left a temp file. */
export function sweepInterruptedWrite(ctx: AttachmentContext): void {
  ctx.store.sweepTemp(ctx.key);
}

/** GC: temp files of any record write killed before its rename (older than a minute). */
export function sweepInterruptedWrites(store: RecordStore<AttachmentRecord>): void {
  sweepTempFiles(store.tempDir);
  sweepTempFiles(store.recordsDir); // where versions before records-tmp/ left theirs
}
