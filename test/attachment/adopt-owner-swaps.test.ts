// Adopt mode's owner pin (pinAdoptedOwner) against a CNI_NETNS that is no longer what the
// record says: the netns swapped at the path, its owner not the recorded one, the path gone,
// the owner pin path taken. Each is refused with the message naming path and inode, nothing
// is pinned, and no fd is left open; the case that works pins exactly the recorded owner.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { pinAdoptedOwner } from '../../src/attachment/adopt-owner';
import { CniError, ErrorCode } from '../../src/cni/errors';
import type { AttachmentRecord } from '../../src/generated/types';
import { inspectNamespace } from '../../src/ns/index';
import { cleanupRoot, nsfsMountsAt, ONE, openFdCount, pinnedPair, safeUnpin, USER_DIR, uniq } from '../helpers/ns-util';

test.after(() => cleanupRoot());

const TOKEN = '0123456789abcdef';

/** The record as ADD has journalled it just before pinAdoptedOwner: owner pin as an intent. */
function adoptRecord(netnsPath: string, netnsInode: number, ownerInode: number): AttachmentRecord {
  const now = new Date().toISOString();
  return {
    schemaVersion: 1,
    network: 'adopt-owner-test',
    containerId: uniq(),
    ifname: 'eth0',
    cniVersion: '1.0.0',
    mode: 'adopt',
    phase: 'adding',
    bootId: 'test',
    createdAt: now,
    updatedAt: now,
    netns: { path: netnsPath, inode: netnsInode, pin: 'none' },
    userns: { path: `${USER_DIR}/owner-${uniq()}`, inode: ownerInode, hostOwned: false, adopted: true, pin: 'intent', token: TOKEN },
    delegates: [],
  };
}

/** pinAdoptedOwner must throw a NamespaceFailure with exactly `msg`, pin nothing, and close every fd it opened. */
function refused(rec: AttachmentRecord, code: number, msg: string): void {
  const before = openFdCount();
  let err: unknown;
  try {
    pinAdoptedOwner(rec);
  } catch (e) {
    err = e;
  }
  assert.instance(err, CniError, `expected a CniError, got ${String(err)}`);
  assert.is((err as CniError).code, code);
  assert.is((err as CniError).message, msg);
  assert.is(openFdCount(), before, 'fds opened by pinAdoptedOwner are all closed');
  assert.is(nsfsMountsAt(rec.userns.path), 0, 'no owner pin mounted');
  assert.is(rec.mappings, undefined, 'no mappings recorded');
}

test('the recorded netns and owner: the owner is pinned at the intent path, its maps recorded, no fd left', async () => {
  const a = await pinnedPair();
  const rec = adoptRecord(a.ns.netnsPin, a.ns.netnsInode, a.ns.usernsInode);
  try {
    const before = openFdCount();
    pinAdoptedOwner(rec);
    assert.is(openFdCount(), before, 'netns and owner fds closed');
    assert.is(rec.userns.pin, 'pinned');
    assert.equal(rec.mappings, ONE);
    const pin = inspectNamespace(rec.userns.path);
    assert.is(pin.isNsfsMount, true);
    assert.is(pin.nsType, 'user');
    assert.is(pin.inode, a.ns.usernsInode);
  } finally {
    safeUnpin(rec.userns.path);
    a.drop();
  }
});

test('another netns now at the path (same owner type, other inode): refused as changed, nothing pinned', async () => {
  const a = await pinnedPair();
  const b = await pinnedPair().catch((e) => {
    a.drop();
    throw e;
  });
  // The record names b's netns; a's is at the path now.
  const rec = adoptRecord(a.ns.netnsPin, b.ns.netnsInode, b.ns.usernsInode);
  try {
    refused(rec, ErrorCode.NamespaceFailure, `CNI_NETNS: "${a.ns.netnsPin}" changed while being adopted (no longer netns ${b.ns.netnsInode})`);
    assert.is(rec.userns.pin, 'intent', 'nothing reserved, the intent stays for the rollback to check');
  } finally {
    safeUnpin(rec.userns.path);
    a.drop();
    b.drop();
  }
});

test('the recorded netns but another owner recorded: refused naming both user namespaces, nothing pinned', async () => {
  const a = await pinnedPair();
  const b = await pinnedPair().catch((e) => {
    a.drop();
    throw e;
  });
  const rec = adoptRecord(a.ns.netnsPin, a.ns.netnsInode, b.ns.usernsInode);
  try {
    refused(rec, ErrorCode.NamespaceFailure, `CNI_NETNS: "${a.ns.netnsPin}" is now owned by user namespace ${a.ns.usernsInode}, not ${b.ns.usernsInode}`);
    assert.is(rec.userns.pin, 'intent');
  } finally {
    safeUnpin(rec.userns.path);
    a.drop();
    b.drop();
  }
});

test('the netns pin gone from the path: refused as disappeared, nothing pinned', async () => {
  const a = await pinnedPair();
  const rec = adoptRecord(a.ns.netnsPin, a.ns.netnsInode, a.ns.usernsInode);
  a.drop();
  try {
    refused(rec, ErrorCode.NamespaceFailure, `CNI_NETNS: "${a.ns.netnsPin}" disappeared while being adopted`);
  } finally {
    safeUnpin(rec.userns.path);
  }
});

test('the owner pin path already taken: refused with 101, the file left untouched, the record names no pin of ours', async () => {
  const a = await pinnedPair();
  const rec = adoptRecord(a.ns.netnsPin, a.ns.netnsInode, a.ns.usernsInode);
  fs.writeFileSync(rec.userns.path, 'someone else');
  try {
    refused(rec, ErrorCode.PinExists, `userns pin ${rec.userns.path} already exists; it was left untouched`);
    assert.is(rec.userns.pin, 'none', 'the rollback must not look at the path');
    assert.is(fs.readFileSync(rec.userns.path, 'utf8'), 'someone else');
    assert.not.ok(
      fs.readdirSync(USER_DIR).some((n) => n.includes(TOKEN)),
      'the temporary reservation name is removed',
    );
  } finally {
    fs.rmSync(rec.userns.path, { force: true });
    a.drop();
  }
});

test.run();
