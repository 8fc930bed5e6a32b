// teardown() - the one DEL path of DEL, ADD's rollback and GC - in process against real pins
// and the logging delegate: each delegate's DEL (last first, in the netns only while it is the
// one recorded, with the chain's result only for delegates that were added), then our pins
// (this boot's, once the delegates are done, unless another record still holds them), then the
// record - kept, with every failure reported, when a step failed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { AttachmentContext } from '../../src/attachment/context';
import { netnsLockPath } from '../../src/attachment/netns-lock';
import { canonicalNetnsPath } from '../../src/attachment/netns-target';
import { notePinHolder } from '../../src/attachment/pin-owners';
import { teardown, type TeardownOptions } from '../../src/attachment/teardown';
import { CniError } from '../../src/cni/errors';
import type { AttachmentRecord, DelegateRecord, NamespaceRef } from '../../src/generated/types';
import { createPinnedNamespaces } from '../../src/ns/index';
import { holdFlock } from '../helpers/flock-holder';
import { present } from '../helpers/host';
import { cleanupRoot, NET_DIR, nsfsMountsAt, ONE, pinPaths, ROOT, safeUnpin } from '../helpers/ns-util';
import { uniqueName } from '../helpers/unique';
import { fixture, recordFor, type Fixture } from './helpers/attachment-fixture';

const made: string[] = [];
test.after(() => {
  safeUnpin(...made);
  cleanupRoot();
});

async function pins(): Promise<{ net: NamespaceRef & { inode: number }; user: NamespaceRef & { inode: number } }> {
  const p = pinPaths();
  made.push(p.netnsPin, p.usernsPin);
  const r = await createPinnedNamespaces({ mappings: ONE, ...p });
  return { net: { path: p.netnsPin, inode: r.netnsInode, pin: 'pinned' }, user: { path: p.usernsPin, inode: r.usernsInode, pin: 'pinned' } };
}

const RESULT = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }], ips: [{ address: '10.99.0.2/24', interface: 0 }] };

/** The config's three logging delegates as ADD journals them: a and b added (a with a result), c started. */
function delegates(network: string): DelegateRecord[] {
  const conf = (type: string) => ({ type, name: network, cniVersion: '1.0.0' });
  return [
    { type: 'dela', cniVersion: '1.0.0', state: 'added', conf: conf('dela'), result: RESULT },
    { type: 'delb', cniVersion: '1.0.0', state: 'added', conf: conf('delb') },
    { type: 'delc', cniVersion: '1.0.0', state: 'intent', conf: conf('delc') },
  ];
}

/** Journals `rec` as ctx's record (its pins entered as held by it), as ADD leaves it. */
function journalled(f: Fixture, ctx: AttachmentContext, netns: NamespaceRef, userns: NamespaceRef, extra: Partial<AttachmentRecord> = {}): AttachmentRecord {
  const rec = recordFor(ctx, netns, userns, { delegates: delegates(f.network), ...extra });
  notePinHolder(ctx, rec);
  ctx.store.put(ctx.key, rec);
  return rec;
}

/** teardown under the attachment's key lock, as its callers run it; the error it threw, if any. */
async function tearDown(ctx: AttachmentContext, rec: AttachmentRecord, opts?: TeardownOptions): Promise<CniError | undefined> {
  try {
    await ctx.store.withLock(ctx.key, { timeoutMs: 5000 }, () => teardown(ctx, rec, opts));
    return undefined;
  } catch (err) {
    assert.instance(err, CniError);
    return err as CniError;
  }
}

async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const f = fixture(['dela', 'delb', 'delc']);
  try {
    await fn(f);
  } finally {
    f.cleanup();
  }
}

test('every delegate DELs, last first, in the live netns recorded; added ones get the chain result; then the pins and the record go', async () => {
  await withFixture(async (f) => {
    const ctx = f.context();
    const p = await pins();
    const rec = journalled(f, ctx, p.net, p.user);
    assert.is(await tearDown(ctx, rec), undefined);
    const n = p.net.path;
    assert.equal(f.calls(), [`delc DEL netns=${n} prev=no`, `delb DEL netns=${n} prev=yes`, `dela DEL netns=${n} prev=yes`]);
    assert.not.ok(present(p.net.path));
    assert.not.ok(present(p.user.path));
    assert.is(ctx.store.get(ctx.key), undefined);
  });
});

test('a netns pin that is not the recorded netns (or none journalled yet): the delegates DEL without a netns, that pin stays', async () => {
  await withFixture(async (f) => {
    const a = await pins();
    const b = await pins();
    const ctx = f.context();
    const rec = journalled(f, ctx, { ...a.net, inode: b.net.inode }, a.user);
    assert.is(await tearDown(ctx, rec), undefined);
    assert.equal(f.calls(), ['delc DEL netns= prev=no', 'delb DEL netns= prev=yes', 'dela DEL netns= prev=yes']);
    assert.is(nsfsMountsAt(a.net.path), 1, 'not the netns we pinned: not ours');
    assert.not.ok(present(a.user.path), 'the userns pin is still proven ours by its inode');

    const c = await pins();
    const ctx2 = f.context();
    const killed = journalled(f, ctx2, { path: c.net.path, pin: 'intent' }, { path: c.user.path, pin: 'intent' }, { phase: 'adding' });
    assert.is(await tearDown(ctx2, killed), undefined);
    assert.equal(f.calls().slice(3), ['delc DEL netns= prev=no', 'delb DEL netns= prev=yes', 'dela DEL netns= prev=yes'], 'no inode journalled: no netns given');
    assert.is(nsfsMountsAt(c.net.path), 1);
    assert.is(nsfsMountsAt(c.user.path), 1);
  });
});

test('a record of an earlier boot: DELs without a netns, no pin touched (the path may hold a new one), the record goes', async () => {
  await withFixture(async (f) => {
    const ctx = f.context();
    const p = await pins();
    const rec = journalled(f, ctx, p.net, p.user, { bootId: '00000000-0000-0000-0000-000000000000' });
    assert.is(await tearDown(ctx, rec), undefined);
    assert.equal(f.calls(), ['delc DEL netns= prev=no', 'delb DEL netns= prev=yes', 'dela DEL netns= prev=yes']);
    assert.is(nsfsMountsAt(p.net.path), 1);
    assert.is(nsfsMountsAt(p.user.path), 1);
    assert.is(ctx.store.get(ctx.key), undefined);
  });
});

test("ADD's rollback: only the delegates it started get a DEL, and the failed one's DEL failing too is only logged", async () => {
  await withFixture(async (f) => {
    const ctx = f.context();
    const p = await pins();
    const rec = journalled(f, ctx, p.net, p.user, { phase: 'adding' });
    f.failDel('delb', true);
    assert.is(await tearDown(ctx, rec, { delegatesStarted: 2, failedDelegate: 1 }), undefined);
    const n = p.net.path;
    assert.equal(f.calls(), [`delb DEL netns=${n} prev=yes`, `dela DEL netns=${n} prev=yes`]);
    assert.ok(
      ctx.log.events.some((e) => e.event === 'failed-delegate-del' && e.fields?.delegate === 'delb'),
      'logged',
    );
    assert.not.ok(present(p.net.path), 'rolled back all the same');
    assert.is(ctx.store.get(ctx.key), undefined);
  });
});

test("ADD's rollback: another delegate's failing DEL is an error, and keeps the record", async () => {
  await withFixture(async (f) => {
    const ctx = f.context();
    const p = await pins();
    const rec = journalled(f, ctx, p.net, p.user, { phase: 'adding' });
    f.failDel('dela', true);
    const err = await tearDown(ctx, rec, { delegatesStarted: 3, failedDelegate: 2 });
    assert.is(err?.message, 'dela cannot delete now');
    assert.ok(ctx.store.get(ctx.key) !== undefined);
  });
});

test('failing delegate DELs: the others still run; pins and record stay (phase "deleting"); every failure is reported; the next DEL finishes', async () => {
  await withFixture(async (f) => {
    const ctx = f.context();
    const p = await pins();
    const rec = journalled(f, ctx, p.net, p.user);
    f.failDel('delb', true);
    const one = await tearDown(ctx, rec);
    assert.is(one?.code, 11, "the delegate's own code");
    assert.is(one?.message, 'delb cannot delete now', 'one failure: its message alone');
    assert.is(one?.details, 'delegate "delb" (DEL): ask delb again; the record is kept: DEL or GC again to finish');
    assert.is(f.calls().length, 3, 'a failure does not stop the delegates before it');
    assert.is(nsfsMountsAt(p.net.path), 1, 'a delegate not done with the netns keeps it');
    assert.is(nsfsMountsAt(p.user.path), 1);
    const kept = ctx.store.get(ctx.key) as AttachmentRecord;
    assert.is(kept.phase, 'deleting');

    f.failDel('dela', true);
    const two = await tearDown(ctx, kept);
    assert.is(two?.message, '2 cleanup steps failed: delb cannot delete now; dela cannot delete now');
    assert.is(two?.details, 'delegate "delb" (DEL): ask delb again; the record is kept: DEL or GC again to finish');

    f.failDel('dela', false);
    f.failDel('delb', false);
    assert.is(await tearDown(ctx, ctx.store.get(ctx.key) as AttachmentRecord), undefined);
    assert.not.ok(present(p.net.path));
    assert.is(ctx.store.get(ctx.key), undefined);
  });
});

test("adopt mode: the runtime's netns stays; the owner pin we made for it goes", async () => {
  await withFixture(async (f) => {
    const ctx = f.context();
    const p = await pins(); // p.net stands for the runtime's netns, p.user for the owner pin we made
    const rec = journalled(f, ctx, { ...p.net, pin: 'none' }, { ...p.user, adopted: true }, { mode: 'adopt' });
    assert.is(await tearDown(ctx, rec), undefined);
    assert.is(nsfsMountsAt(p.net.path), 1, 'not ours');
    assert.not.ok(present(p.user.path));
    assert.is(ctx.store.get(ctx.key), undefined);
  });
});

test('pins another record still holds stay; the last holder takes them', async () => {
  await withFixture(async (f) => {
    const p = await pins();
    const first = f.context();
    const second = f.context();
    const a = journalled(f, first, p.net, p.user);
    const b = journalled(f, second, p.net, p.user);
    assert.is(await tearDown(first, a), undefined);
    assert.is(nsfsMountsAt(p.net.path), 1);
    assert.is(nsfsMountsAt(p.user.path), 1);
    assert.ok(first.log.events.some((e) => e.event === 'pins-kept'));
    assert.is(first.store.get(first.key), undefined, 'its own record goes');
    assert.is(await tearDown(second, b), undefined);
    assert.not.ok(present(p.net.path));
    assert.not.ok(present(p.user.path));
  });
});

test('adoptions sharing the owner pin we made: the first teardown keeps it for the other, the last removes it', async () => {
  await withFixture(async (f) => {
    const p = await pins(); // p.net stands for the runtime's netns, p.user for the owner pin we made
    const first = f.context();
    const second = f.context();
    const adopted = (ctx: AttachmentContext) => journalled(f, ctx, { ...p.net, pin: 'none' }, { ...p.user, adopted: true }, { mode: 'adopt' });
    const [a, b] = [adopted(first), adopted(second)];
    assert.is(await tearDown(first, a), undefined);
    assert.is(nsfsMountsAt(p.user.path), 1, 'still named by the other adoption');
    assert.ok(first.log.events.some((e) => e.event === 'pins-kept'));
    assert.is(await tearDown(second, b), undefined);
    assert.not.ok(present(p.user.path));
    assert.is(nsfsMountsAt(p.net.path), 1, "the runtime's netns is never ours");
  });
});

test('a pin that cannot be removed is an error: the other pin still goes, the record is kept for the next DEL', async () => {
  await withFixture(async (f) => {
    const ctx = f.context();
    const p = await pins();
    const notADir = `${f.dir}/was-a-pin-dir`;
    writeFileSync(notADir, '');
    const token = '0123456789abcdef';
    const rec = journalled(f, ctx, p.net, { path: `${notADir}/u`, pin: 'intent', token });
    const err = await tearDown(ctx, rec);
    assert.match(err?.message ?? '', `cannot remove the temporary pin ${notADir}/.u.${token}.pin`);
    assert.is(err?.details, 'the record is kept: DEL or GC again to finish');
    assert.not.ok(present(p.net.path));
    assert.ok(ctx.store.get(ctx.key) !== undefined);
  });
});

test('the netns lock held elsewhere past the timeout: the teardown says so, keeps the pins and the record', async () => {
  await withFixture(async (f) => {
    const ctx = f.context(undefined, { lockTimeoutMs: 300 });
    const p = await pins();
    const rec = journalled(f, ctx, p.net, p.user);
    mkdirSync(ctx.store.locksDir, { recursive: true, mode: 0o700 });
    const lockFile = netnsLockPath(ctx, p.net.path);
    const holder = await holdFlock(lockFile);
    try {
      const err = await tearDown(ctx, rec);
      assert.is(err?.code, 11);
      assert.match(err?.message ?? '', `waiting for lock ${lockFile}`);
      assert.is(nsfsMountsAt(p.net.path), 1);
      assert.is(nsfsMountsAt(p.user.path), 1);
      assert.ok(ctx.store.get(ctx.key) !== undefined, 'kept for the next DEL');
    } finally {
      await holder.release();
    }
  });
});

test('adopt mode, the netns named through a symlinked directory: the teardown waits for the lock ADD took, of the resolved path', async () => {
  await withFixture(async (f) => {
    const ctx = f.context(undefined, { lockTimeoutMs: 300 });
    const p = await pins(); // p.net stands for the runtime's netns, p.user for the owner pin we made
    const linkDir = `${ROOT}/netns-link-${uniqueName('tl')}`;
    symlinkSync(NET_DIR, linkDir);
    const spelled = `${linkDir}/${basename(p.net.path)}`; // as the runtime gave CNI_NETNS
    const rec = journalled(f, ctx, { ...p.net, path: spelled, pin: 'none' }, { ...p.user, adopted: true }, { mode: 'adopt' });
    mkdirSync(ctx.store.locksDir, { recursive: true, mode: 0o700 });
    const lockFile = netnsLockPath(ctx, canonicalNetnsPath(spelled));
    assert.is(lockFile, netnsLockPath(ctx, p.net.path), 'one lock for both spellings');
    const holder = await holdFlock(lockFile);
    try {
      const err = await tearDown(ctx, rec);
      assert.is(err?.code, 11);
      assert.ok(present(p.user.path), 'the owner pin stays while ADD may still be adopting');
    } finally {
      await holder.release();
    }
  });
});

test.run();
