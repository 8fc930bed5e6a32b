// clearLeftover() on a record that cannot be read (as DEL, GC and a retried ADD meet one), in
// process against real pins: the configured delegates' DEL without a netns, last first; the
// pins its text still names removed where they prove ours and no other record names them (a
// netns proven ours takes its owner's pin beside it along); the file dropped only when every
// step succeeded, every failure reported. A readable leftover is rolled back from its record.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AttachmentContext } from '../../src/attachment/context';
import { clearLeftover } from '../../src/attachment/leftover';
import { netnsLockPath } from '../../src/attachment/netns-lock';
import { canonicalNetnsPath } from '../../src/attachment/netns-target';
import { notePinHolder } from '../../src/attachment/pin-owners';
import { CniError } from '../../src/cni/errors';
import type { AttachmentRecord, NamespaceRef } from '../../src/generated/types';
import { createPinnedNamespaces } from '../../src/ns/index';
import { isCorrupt } from '../../src/state/record-store';
import { holdFlock } from '../helpers/flock-holder';
import { present } from '../helpers/host';
import { cleanupRoot, NET_DIR, nsfsMountsAt, ONE, pinPaths, safeUnpin, USER_DIR } from '../helpers/ns-util';
import { fixture, recordFor, type Fixture } from './helpers/attachment-fixture';

const made: string[] = [];
test.after(() => {
  safeUnpin(...made);
  cleanupRoot();
});

interface Pins {
  net: NamespaceRef;
  user: NamespaceRef;
}

/** A netns and its owner pinned at <NET_DIR>/<name> and `usernsPin` (default <USER_DIR>/<name>), as ADD pins them. */
async function pins(name = pinPaths().name, usernsPin = `${USER_DIR}/${name}`): Promise<Pins> {
  const netnsPin = `${NET_DIR}/${name}`;
  made.push(netnsPin, usernsPin);
  const r = await createPinnedNamespaces({ mappings: ONE, netnsPin, usernsPin });
  return { net: { path: netnsPin, inode: r.netnsInode, pin: 'pinned' }, user: { path: usernsPin, inode: r.usernsInode, pin: 'pinned' } };
}

/** Writes `rec` as ctx's record, then cuts its file right after `cutAfter` ('netns', 'userns' or 'start'). */
function damagedRecord(f: Fixture, ctx: AttachmentContext, rec: AttachmentRecord, cutAfter: 'start' | 'netns' | 'userns'): void {
  ctx.store.put(ctx.key, rec);
  const file = f.recordFile(ctx.key);
  const text = readFileSync(file, 'utf8');
  const ref = (key: string) => text.indexOf('}', text.indexOf(`"${key}":`)) + 1;
  const end = cutAfter === 'start' ? 20 : ref(cutAfter);
  writeFileSync(file, text.slice(0, end));
}

/** As DEL runs it: under the attachment's key lock, on what the store reads. */
async function del(ctx: AttachmentContext): Promise<void> {
  try {
    await ctx.store.withLock(ctx.key, { timeoutMs: 5000 }, async () => {
      const rec = ctx.store.get(ctx.key);
      assert.ok(rec !== undefined, 'a leftover to clear');
      await clearLeftover(ctx, rec);
    });
  } catch (err) {
    // uvu cannot report a rejection that is no Error (its formatter fails, the file passes).
    if (err instanceof Error) throw err;
    throw new Error(`clearLeftover threw a non-Error: ${String(err)}`);
  }
}

async function withFixture(names: string[], fn: (f: Fixture) => Promise<void>): Promise<void> {
  const f = fixture(names);
  try {
    await fn(f);
  } finally {
    f.cleanup();
  }
}

test('a damaged record: every configured delegate gets its DEL without a netns, last first; its pins go, then the file', async () => {
  await withFixture(['dela', 'delb', 'delc'], async (f) => {
    const ctx = f.context();
    const p = await pins();
    damagedRecord(f, ctx, recordFor(ctx, p.net, p.user), 'userns');
    assert.ok(isCorrupt(ctx.store.get(ctx.key)), 'the store reads it as damaged');
    await del(ctx);
    assert.equal(f.calls(), ['delc DEL netns= prev=no', 'delb DEL netns= prev=no', 'dela DEL netns= prev=no']);
    assert.not.ok(present(p.net.path), 'the netns pin, proven ours by its inode');
    assert.not.ok(present(p.user.path), 'the userns pin, proven ours by its inode');
    assert.not.ok(present(f.recordFile(ctx.key)), 'the damaged file goes once all is released');
  });
});

test('failing delegate DELs: the others still run and the pins still go; the record stays, every failure is reported', async () => {
  await withFixture(['dela', 'delb'], async (f) => {
    const ctx = f.context();
    const p = await pins();
    damagedRecord(f, ctx, recordFor(ctx, p.net, p.user), 'userns');

    f.failDel('delb', true);
    const one = await del(ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(one, CniError);
    assert.is((one as CniError).code, 11, "the failing delegate's own code");
    assert.is((one as CniError).message, 'delb cannot delete now', 'one failure: its own message, no heading');
    assert.equal(f.calls(), ['delb DEL netns= prev=no', 'dela DEL netns= prev=no'], 'a failure does not stop the next delegate');
    assert.not.ok(present(p.net.path), 'the pins do not wait for the delegates');
    assert.ok(present(f.recordFile(ctx.key)), 'the record stays for the next DEL');

    f.failDel('dela', true);
    const two = await del(ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(two, CniError);
    assert.match((two as CniError).message, /^2 cleanup steps failed/);
    assert.match((two as CniError).message, 'delb cannot delete now');
    assert.match((two as CniError).message, 'dela cannot delete now');
    assert.ok(present(f.recordFile(ctx.key)));

    f.failDel('dela', false);
    f.failDel('delb', false);
    await del(ctx);
    assert.not.ok(present(f.recordFile(ctx.key)), 'the next DEL finishes');
  });
});

test('a record cut before any pin: the delegates are released and the file goes', async () => {
  await withFixture(['dela'], async (f) => {
    const ctx = f.context();
    damagedRecord(f, ctx, recordFor(ctx, { path: `${NET_DIR}/x`, pin: 'pinned' }, { path: '', pin: 'none' }), 'start');
    await del(ctx);
    assert.equal(f.calls(), ['dela DEL netns= prev=no']);
    assert.not.ok(present(f.recordFile(ctx.key)));
  });
});

test('a netns proven ours whose userns reference was cut takes the user namespace that owns it, pinned beside it, along', async () => {
  await withFixture(['dela'], async (f) => {
    const ctx = f.context();
    const p = await pins();
    damagedRecord(f, ctx, recordFor(ctx, p.net, p.user), 'netns');
    await del(ctx);
    assert.not.ok(present(p.net.path));
    assert.not.ok(present(p.user.path), 'the owner pin at <usernsPinDir>/<same name>');
  });
});

test('what is beside a netns is taken along only when it is that netns, and that pin its owner', async () => {
  await withFixture(['dela'], async (f) => {
    // b's user namespace pinned beside a's netns (a's own owner pinned elsewhere): not a's owner.
    const name = pinPaths().name;
    const a = await pins(name, `${USER_DIR}/${name}-elsewhere`);
    const b = await pins(`${name}-b`, `${USER_DIR}/${name}`);
    const ctx = f.context();
    damagedRecord(f, ctx, recordFor(ctx, a.net, a.user), 'netns');
    await del(ctx);
    assert.not.ok(present(a.net.path));
    assert.is(nsfsMountsAt(b.user.path), 1, 'a user namespace beside the netns that does not own it stays');

    // The recorded netns pin now holds another netns: neither it nor the owner pin beside it is ours.
    const c = await pins();
    const ctx2 = f.context();
    damagedRecord(f, ctx2, recordFor(ctx2, { ...c.net, inode: b.net.inode }, c.user), 'netns');
    await del(ctx2);
    assert.is(nsfsMountsAt(c.net.path), 1, 'not the netns journalled');
    assert.is(nsfsMountsAt(c.user.path), 1, "not that netns's owner pin either");
  });
});

test('with the userns reference readable, only that pin goes: another pin of the same user namespace beside the netns is not ours', async () => {
  await withFixture(['dela'], async (f) => {
    const name = pinPaths().name;
    const a = await pins(name, `${USER_DIR}/${name}-recorded`);
    const beside = `${USER_DIR}/${name}`;
    writeFileSync(beside, '');
    made.push(beside);
    execFileSync('mount', ['--bind', a.user.path, beside]);
    const ctx = f.context();
    damagedRecord(f, ctx, recordFor(ctx, a.net, a.user), 'userns');
    await del(ctx);
    assert.not.ok(present(a.net.path));
    assert.not.ok(present(a.user.path));
    assert.is(nsfsMountsAt(beside), 1, 'named by no record of ours');
  });
});

test('pins another record of the data dir still names stay, for its own DEL', async () => {
  await withFixture(['dela'], async (f) => {
    const p = await pins();
    const other = f.context();
    notePinHolder(other, { netns: p.net, userns: p.user });
    other.store.put(other.key, recordFor(other, p.net, p.user));

    const ctx = f.context();
    notePinHolder(ctx, { netns: p.net, userns: p.user });
    damagedRecord(f, ctx, recordFor(ctx, p.net, p.user), 'userns');
    await del(ctx);
    assert.is(nsfsMountsAt(p.net.path), 1);
    assert.is(nsfsMountsAt(p.user.path), 1);
    assert.not.ok(present(f.recordFile(ctx.key)), 'the damaged record itself goes');
    assert.ok(
      ctx.log.events.some((e) => e.event === 'pins-kept'),
      'says why the pins stayed',
    );

    await del(other); // the last holder: its teardown takes them
    assert.not.ok(present(p.net.path));
    assert.not.ok(present(p.user.path));
  });
});

test("an adopted netns's damaged record: the runtime's netns stays, the owner pin we made for it goes", async () => {
  await withFixture(['dela'], async (f) => {
    const ctx = f.context();
    const p = await pins(); // p.net stands for the runtime's netns, p.user for the owner pin we made
    damagedRecord(f, ctx, recordFor(ctx, { ...p.net, pin: 'none' }, { ...p.user, adopted: true }, { mode: 'adopt' }), 'userns');
    await del(ctx);
    assert.is(nsfsMountsAt(p.net.path), 1, 'not ours');
    assert.not.ok(present(p.user.path));
    assert.not.ok(present(f.recordFile(ctx.key)));
  });
});

test("an adopted netns's damaged record is cleared under that netns's lock, as ADD and teardown take it: busy, code 11 and nothing removed", async () => {
  await withFixture(['dela'], async (f) => {
    const ctx = f.context(undefined, { lockTimeoutMs: 200 });
    const p = await pins();
    damagedRecord(f, ctx, recordFor(ctx, { ...p.net, pin: 'none' }, { ...p.user, adopted: true }, { mode: 'adopt' }), 'userns');
    const lockPath = netnsLockPath(ctx, canonicalNetnsPath(p.net.path));
    mkdirSync(ctx.store.locksDir, { recursive: true, mode: 0o700 });
    const holder = await holdFlock(lockPath);
    try {
      let err: unknown;
      await del(ctx).catch((e) => (err = e));
      assert.instance(err, CniError);
      assert.is((err as CniError).code, 11, (err as CniError).message);
      assert.ok(present(p.user.path), 'the owner pin stays until the lock is ours');
    } finally {
      await holder.release();
    }
    await del(ctx);
    assert.not.ok(present(p.user.path));
  });
});

test('a damaged record whose netns reference is unreadable still releases the userns pin it proves ours', async () => {
  await withFixture(['dela'], async (f) => {
    const ctx = f.context();
    const p = await pins();
    ctx.store.put(ctx.key, recordFor(ctx, p.net, p.user));
    const file = f.recordFile(ctx.key);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"netns":{"path"', '"netns":{path'));
    await del(ctx);
    assert.is(nsfsMountsAt(p.net.path), 1, 'nothing readable proves the netns pin ours');
    assert.not.ok(present(p.user.path));
    assert.not.ok(present(f.recordFile(ctx.key)));
  });
});

test('pins that cannot be removed are each reported, and the record kept for the next DEL', async () => {
  await withFixture(['dela'], async (f) => {
    const ctx = f.context();
    const notADir = `${f.dir}/was-a-pin-dir`;
    writeFileSync(notADir, '');
    const token = '0123456789abcdef';
    damagedRecord(f, ctx, recordFor(ctx, { path: `${notADir}/p`, pin: 'intent', token }, { path: `${notADir}/u`, pin: 'intent', token }), 'userns');
    const err = await del(ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(err, CniError);
    const msg = (err as CniError).message;
    assert.match(msg, /^2 cleanup steps failed: /);
    assert.match(msg, `${notADir}/.p.${token}.pin`);
    assert.match(msg, `${notADir}/.u.${token}.pin`);
    assert.ok(present(f.recordFile(ctx.key)));
  });
});

test('a readable leftover (an ADD killed mid-way) is rolled back from its record, not from the config', async () => {
  await withFixture(['dela'], async (f) => {
    const ctx = f.context();
    const p = await pins();
    ctx.store.put(ctx.key, recordFor(ctx, p.net, p.user, { phase: 'adding' }));
    await del(ctx);
    assert.equal(f.calls(), [], 'its record names no delegate started');
    assert.not.ok(present(p.net.path));
    assert.not.ok(present(p.user.path));
    assert.not.ok(present(f.recordFile(ctx.key)));
  });
});

test.run();
