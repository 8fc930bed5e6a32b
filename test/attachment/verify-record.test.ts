// verify() - what CHECK, inspect, list, oci and exec trust a record by - against real pinned
// namespaces: every way a record can disagree with the kernel is its own problem sentence naming
// the path and the inodes, and `live` is true only when there is none.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { verify } from '../../src/attachment/verify';
import type { AttachmentRecord, NamespaceRef } from '../../src/generated/types';
import { createPinnedNamespaces, hostNetnsInode, hostUsernsInode } from '../../src/ns/index';
import { currentBootId } from '../../src/state/boot-id';
import { cleanupRoot, ONE, pinPaths, ROOT, safeUnpin } from '../helpers/ns-util';

interface Pair {
  net: string;
  user: string;
  netIno: number;
  userIno: number;
}

const pairs: Pair[] = [];
const PLAIN = `${ROOT}/misc/plain-file`;
const MISSING = `${ROOT}/misc/never-made`;

async function pair(): Promise<Pair> {
  const p = pinPaths();
  const made = await createPinnedNamespaces({ mappings: ONE, ...p });
  const out = { net: p.netnsPin, user: p.usernsPin, netIno: made.netnsInode, userIno: made.usernsInode };
  pairs.push(out);
  return out;
}

let a: Pair;
let b: Pair;

test.before(async () => {
  a = await pair();
  b = await pair();
  fs.mkdirSync(`${ROOT}/misc`, { recursive: true });
  fs.writeFileSync(PLAIN, '');
});

test.after(() => {
  for (const p of pairs) safeUnpin(p.net, p.user);
  cleanupRoot();
});

function record(netns: NamespaceRef, userns: NamespaceRef, extra: Partial<AttachmentRecord> = {}): AttachmentRecord {
  const now = new Date().toISOString();
  return {
    schemaVersion: 1,
    network: 'n1',
    containerId: 'c1',
    ifname: 'eth0',
    cniVersion: '1.0.0',
    mode: 'create',
    phase: 'ready',
    bootId: currentBootId(),
    createdAt: now,
    updatedAt: now,
    netns,
    userns,
    delegates: [],
    ...extra,
  };
}

const live = (path: string, inode: number, recorded = inode) => ({ path, present: true, isNamespace: true, inode, recordedInode: recorded, inodeMatches: inode === recorded });

test('a ready record of this boot whose pins are the recorded namespaces is live', () => {
  const v = verify(record({ path: a.net, inode: a.netIno, pin: 'pinned' }, { path: a.user, inode: a.userIno, pin: 'pinned' }));
  assert.equal(v, { live: true, sameBoot: true, netns: live(a.net, a.netIno), userns: live(a.user, a.userIno), netnsOwnerInode: a.userIno, ownerMatches: true, problems: [] });
});

test('an earlier boot and an unfinished phase are each a problem, beside live pins', () => {
  for (const phase of ['adding', 'deleting'] as const) {
    const v = verify(record({ path: a.net, inode: a.netIno, pin: 'pinned' }, { path: a.user, inode: a.userIno, pin: 'pinned' }, { bootId: 'an-earlier-boot', phase }));
    assert.equal(v.problems, ['recorded in an earlier boot: its namespaces are gone', `phase is "${phase}" (an ADD or DEL did not finish)`]);
    assert.is(v.live, false);
    assert.is(v.sameBoot, false);
    assert.is(v.ownerMatches, true, 'the namespaces themselves still match');
  }
});

test('pins that are gone: each is missing, the userns one named "(none recorded)" when the record has no path', () => {
  const v = verify(record({ path: MISSING, inode: a.netIno, pin: 'pinned' }, { path: '', inode: a.userIno, pin: 'intent' }));
  const gone = (path: string, recorded: number) => ({ path, present: false, isNamespace: false, inode: null, recordedInode: recorded, inodeMatches: false });
  assert.equal(v, {
    live: false,
    sameBoot: true,
    netns: gone(MISSING, a.netIno),
    userns: gone('', a.userIno),
    netnsOwnerInode: null,
    ownerMatches: false,
    problems: [`netns ${MISSING} is missing`, 'userns pin (none recorded) is missing'],
  });
});

test('a missing userns pin at a recorded path is named by that path', () => {
  const v = verify(record({ path: a.net, inode: a.netIno, pin: 'pinned' }, { path: MISSING, inode: a.userIno, pin: 'pinned' }));
  assert.equal(v.problems, [`userns pin ${MISSING} is missing`]);
  assert.equal(v.userns, { path: MISSING, present: false, isNamespace: false, inode: null, recordedInode: a.userIno, inodeMatches: false });
  assert.is(v.ownerMatches, true, 'the netns is still owned by the recorded user namespace');
});

test('something else at a pin path: a plain file is no netns, a netns is no user namespace (stale pins)', () => {
  const v = verify(record({ path: PLAIN, inode: a.netIno, pin: 'pinned' }, { path: b.net, inode: b.userIno, pin: 'pinned' }));
  const notNs = (path: string, recorded: number) => ({ path, present: true, isNamespace: false, inode: null, recordedInode: recorded, inodeMatches: false });
  assert.equal(v, {
    live: false,
    sameBoot: true,
    netns: notNs(PLAIN, a.netIno),
    userns: notNs(b.net, b.userIno),
    netnsOwnerInode: null,
    ownerMatches: false,
    problems: [`${PLAIN} is not a network namespace (stale pin?)`, `${b.net} is not a user namespace (stale pin?)`],
  });
});

test('a user namespace where the netns pin should be is no network namespace', () => {
  const v = verify(record({ path: a.user, inode: a.userIno, pin: 'pinned' }, { path: a.user, inode: a.userIno, pin: 'pinned' }));
  assert.equal(v.problems, [`${a.user} is not a network namespace (stale pin?)`]);
  assert.equal(v.netns, { path: a.user, present: true, isNamespace: false, inode: null, recordedInode: a.userIno, inodeMatches: false });
  assert.is(v.netnsOwnerInode, null);
});

test('pins holding other namespaces than recorded: each inode mismatch names both inodes', () => {
  // The netns pin now holds b's netns (owned by b's userns); the userns pin still holds a's.
  const v = verify(record({ path: b.net, inode: a.netIno, pin: 'pinned' }, { path: b.user, inode: a.userIno, pin: 'pinned' }));
  assert.equal(v, {
    live: false,
    sameBoot: true,
    netns: live(b.net, b.netIno, a.netIno),
    userns: live(b.user, b.userIno, a.userIno),
    netnsOwnerInode: b.userIno,
    ownerMatches: false,
    problems: [`netns ${b.net} is inode ${b.netIno}, recorded ${a.netIno}`, `userns ${b.user} is inode ${b.userIno}, recorded ${a.userIno}`, `netns ${b.net} is owned by user namespace ${b.userIno}, recorded ${a.userIno}`],
  });
});

test('a record without inodes matches nothing: each says "recorded none"', () => {
  const v = verify(record({ path: a.net, pin: 'intent' }, { path: a.user, pin: 'intent' }));
  assert.equal(v.netns, { path: a.net, present: true, isNamespace: true, inode: a.netIno, recordedInode: null, inodeMatches: false });
  assert.equal(v.userns, { path: a.user, present: true, isNamespace: true, inode: a.userIno, recordedInode: null, inodeMatches: false });
  assert.is(v.ownerMatches, false);
  assert.equal(v.problems, [`netns ${a.net} is inode ${a.netIno}, recorded none`, `userns ${a.user} is inode ${a.userIno}, recorded none`, `netns ${a.net} is owned by user namespace ${a.userIno}, recorded none`]);
});

test('the netns owned by another user namespace than the one pinned beside it is a problem of its own', () => {
  // Both pins are the recorded namespaces, but the recorded userns does not own the netns.
  const v = verify(record({ path: a.net, inode: a.netIno, pin: 'pinned' }, { path: b.user, inode: b.userIno, pin: 'pinned' }));
  assert.equal(v.netns, live(a.net, a.netIno));
  assert.equal(v.userns, live(b.user, b.userIno));
  assert.is(v.netnsOwnerInode, a.userIno);
  assert.is(v.ownerMatches, false);
  assert.equal(v.problems, [`netns ${a.net} is owned by user namespace ${a.userIno}, recorded ${b.userIno}`]);
});

test('adopt mode (no userns pin of ours): no userns check, but the owner is still compared', () => {
  const adopted = verify(record({ path: a.net, inode: a.netIno, pin: 'none' }, { path: '', inode: a.userIno, pin: 'none' }, { mode: 'adopt' }));
  assert.equal(adopted, { live: true, sameBoot: true, netns: live(a.net, a.netIno), userns: null, netnsOwnerInode: a.userIno, ownerMatches: true, problems: [] });

  const host = verify(record({ path: '/proc/self/ns/net', inode: hostNetnsInode(), pin: 'none' }, { path: '', inode: hostUsernsInode(), hostOwned: true, pin: 'none' }, { mode: 'adopt' }));
  assert.is(host.live, true, host.problems.join('; '));

  const changedOwner = verify(record({ path: a.net, inode: a.netIno, pin: 'none' }, { path: '', inode: b.userIno, pin: 'none' }, { mode: 'adopt' }));
  assert.is(changedOwner.userns, null);
  assert.equal(changedOwner.problems, [`netns ${a.net} is owned by user namespace ${a.userIno}, recorded ${b.userIno}`]);

  const noOwnerRecorded = verify(record({ path: a.net, inode: a.netIno, pin: 'none' }, { path: '', pin: 'none' }, { mode: 'adopt' }));
  assert.equal(noOwnerRecorded.problems, [`netns ${a.net} is owned by user namespace ${a.userIno}, recorded none`]);
});

test.run();
