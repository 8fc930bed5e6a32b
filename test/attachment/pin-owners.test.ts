// Who holds a netns pin of this data dir (pin-owners.ts) on its own: the pin-holders index
// names the records that share a pin; a holder counts only while its record (this boot) names
// the very pin (path, inode, pinned or intended), a damaged one while its text still does;
// entries without a record are dropped as they are met, and an index dir goes with its last
// holder. The owner pin path of an adopted netns, and the marks of our own pin pairs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { AttachmentContext } from '../../src/attachment/context';
import { openStore } from '../../src/attachment/context';
import { dropPinHolder, dropPinHolderOf, notePinHolder, otherPinHolders, ourPinPairAt, pinCreator, usernsPinHolder, usernsPinPathFor } from '../../src/attachment/pin-owners';
import type { AttachmentRecord } from '../../src/generated/types';
import { createPinnedNamespaces } from '../../src/ns/index';
import { keyToFileName, type AttachmentKey } from '../../src/state/names';
import { pathHash } from '../../src/sys/path-hash';
import { BOOT, NET_REF, NETNS, USER_REF, USERNS, pinRecord } from './helpers/pin-record';
import { cleanupRoot, NET_DIR, ONE, pinPaths, ROOT, safeUnpin, USER_DIR, uniq } from '../helpers/ns-util';

test.after(() => cleanupRoot());

const OTHER_BOOT = '00000000-0000-0000-0000-000000000000';
const record = pinRecord;

/** A data dir of its own and a context for `key` in it (what pin-owners reads of a context). */
function dataDir(): { dir: string; ctx: (key: AttachmentKey) => AttachmentContext } {
  const dir = `${ROOT}/data-${uniq()}`;
  const store = openStore(dir);
  return { dir, ctx: (key) => ({ store, key }) as AttachmentContext };
}

const keyOf = (containerId: string, ifname = 'eth0'): AttachmentKey => ({ network: 'net1', containerId, ifname });
const show = (k: AttachmentKey) => `${k.network}/${k.containerId}/${k.ifname}`;

/** The record stored and entered as a holder of the pins it names (as ADD does, entry first). */
function holder(ctx: AttachmentContext, rec: AttachmentRecord): void {
  notePinHolder(ctx, rec);
  ctx.store.put(ctx.key, rec);
}

/** The record of `ctx.key` stored, then its file overwritten with `text` (a damaged record). */
function damaged(ctx: AttachmentContext, text: string): void {
  notePinHolder(ctx, record(ctx.key));
  ctx.store.put(ctx.key, record(ctx.key));
  fs.writeFileSync(ctx.store.fileFor(ctx.key), text);
}

const indexDir = (dir: string, pin: string) => join(dir, 'pin-holders', pathHash(pin));

test('records entered as holders of a pin are its other holders, each seen from the others; the asker is not one', () => {
  const d = dataDir();
  const [a, b, c] = [keyOf('a'), keyOf('b'), keyOf('c')];
  holder(d.ctx(a), record(a));
  holder(d.ctx(b), record(b, { netns: { pin: 'intent' }, userns: { pin: 'intent' } }));
  assert.equal(otherPinHolders(d.ctx(a), NET_REF, 'net'), [show(b)]);
  assert.equal(otherPinHolders(d.ctx(b), NET_REF, 'net'), [show(a)]);
  assert.equal(otherPinHolders(d.ctx(c), NET_REF, 'net').sort(), [show(a), show(b)]);
  assert.equal(otherPinHolders(d.ctx(c), USER_REF, 'user').sort(), [show(a), show(b)]);
  assert.equal(otherPinHolders(d.ctx(c), { ...NET_REF, inode: undefined }, 'net'), [], 'no inode: no pin to hold');
});

test('attachments of one container in one netns (other network, other ifname) are other holders; a pin nobody entered has none', () => {
  const d = dataDir();
  const a = keyOf('pod');
  const otherNet = { ...a, network: 'net2' };
  const otherIf = keyOf('pod', 'eth1');
  assert.equal(otherPinHolders(d.ctx(a), NET_REF, 'net'), [], 'no index dir yet: the first ADD');
  // (An index that fails its checks: pin-holders-damaged.test.ts.)
  holder(d.ctx(a), record(a));
  holder(d.ctx(otherNet), record(otherNet));
  holder(d.ctx(otherIf), record(otherIf));
  assert.equal(otherPinHolders(d.ctx(a), NET_REF, 'net').sort(), [show(otherNet), show(otherIf)].sort());
  assert.equal(otherPinHolders(d.ctx(otherNet), NET_REF, 'net').sort(), [show(a), show(otherIf)].sort());
  assert.equal(otherPinHolders(d.ctx(otherIf), USER_REF, 'user').sort(), [show(a), show(otherNet)].sort());
});

test('an entry whose record no longer names that pin does not hold it: other inode, other path, pin none, other boot, other type', () => {
  const d = dataDir();
  const asker = d.ctx(keyOf('asker'));
  const cases: Array<[string, AttachmentRecord]> = [
    ['other-inode', record(keyOf('other-inode'), { netns: { inode: 12 }, userns: { inode: 23 } })],
    ['other-path', record(keyOf('other-path'), { netns: { path: '/run/netns/elsewhere' }, userns: { path: '/run/userns/elsewhere' } })],
    ['pin-none', record(keyOf('pin-none'), { netns: { pin: 'none' }, userns: { pin: 'none' } })],
    ['other-boot', record(keyOf('other-boot'), { bootId: OTHER_BOOT })],
  ];
  for (const [id, rec] of cases) {
    // Entered under the pin's paths (as when the record named them), then the record moved on.
    notePinHolder(d.ctx(keyOf(id)), record(keyOf(id)));
    d.ctx(keyOf(id)).store.put(keyOf(id), rec);
  }
  assert.equal(otherPinHolders(asker, NET_REF, 'net'), []);
  assert.equal(otherPinHolders(asker, USER_REF, 'user'), []);
  // The userns ref is not the netns ref: a record holding only the netns pin of that path and inode holds no userns pin there.
  const onlyNet = keyOf('only-net');
  holder(d.ctx(onlyNet), record(onlyNet, { userns: { pin: 'none' } }));
  assert.equal(otherPinHolders(asker, NET_REF, 'net'), [show(onlyNet)]);
  assert.equal(otherPinHolders(asker, { ...NET_REF, path: USERNS }, 'user'), []);
});

test('an entry without a record file (an ADD killed in between) is dropped when read, and the index dir with its last entry', () => {
  const d = dataDir();
  const gone = keyOf('gone');
  notePinHolder(d.ctx(gone), record(gone));
  assert.ok(fs.existsSync(join(indexDir(d.dir, NETNS), keyToFileName(gone))));
  assert.equal(otherPinHolders(d.ctx(keyOf('asker')), NET_REF, 'net'), []);
  assert.not.ok(fs.existsSync(indexDir(d.dir, NETNS)), 'stale entry and empty index dir removed');
  // Names that are no record's name are skipped, not taken for holders.
  const live = keyOf('live');
  holder(d.ctx(live), record(live));
  fs.writeFileSync(join(indexDir(d.dir, NETNS), 'not-a-record-name'), '');
  assert.equal(otherPinHolders(d.ctx(keyOf('asker')), NET_REF, 'net'), [show(live)]);
});

test('a damaged record holds the pins its text still names (this boot or no boot readable), not those of another boot', () => {
  const d = dataDir();
  const [dam, old, blank] = [keyOf('damaged'), keyOf('damaged-old'), keyOf('damaged-noboot')];
  const text = (rec: AttachmentRecord) => JSON.stringify(rec).slice(0, JSON.stringify(rec).indexOf('"delegates"')); // cut short
  damaged(d.ctx(dam), text(record(dam)));
  damaged(d.ctx(old), text(record(old, { bootId: OTHER_BOOT })));
  damaged(d.ctx(blank), `{"netns":${JSON.stringify(NET_REF)},"userns":{"path":"${USERNS}","inode":22,"pin":"none"}`);
  assert.equal(otherPinHolders(d.ctx(keyOf('asker')), NET_REF, 'net').sort(), [`${show(blank)} (damaged record)`, `${show(dam)} (damaged record)`]);
  assert.equal(otherPinHolders(d.ctx(keyOf('asker')), USER_REF, 'user'), [`${show(dam)} (damaged record)`], 'the userns ref with pin none holds nothing');
  assert.equal(otherPinHolders(d.ctx(keyOf('asker')), { ...NET_REF, inode: 99 }, 'net'), [], 'another inode');
  // Entered under this pin, its text now naming another path (same inode): it holds that one, not this.
  const moved = keyOf('damaged-moved');
  damaged(d.ctx(moved), `{"bootId":"${BOOT}","netns":${JSON.stringify({ ...NET_REF, path: '/run/netns/elsewhere' })}`);
  assert.equal(otherPinHolders(d.ctx(keyOf('asker')), NET_REF, 'net').length, 2, 'the moved one is not among them');
  assert.equal(otherPinHolders(d.ctx(keyOf('asker')), { ...USER_REF, path: NETNS, inode: 11 }, 'user'), [], 'the netns ref is no userns pin');
});

test('dropPinHolder leaves the pins of one attachment only; dropPinHolderOf those its record holds; neither throws when nothing is there', () => {
  const d = dataDir();
  const [a, b] = [keyOf('a'), keyOf('b')];
  holder(d.ctx(a), record(a));
  holder(d.ctx(b), record(b));
  dropPinHolderOf(d.ctx(a), record(a));
  assert.equal(otherPinHolders(d.ctx(keyOf('asker')), NET_REF, 'net'), [show(b)]);
  assert.equal(otherPinHolders(d.ctx(keyOf('asker')), USER_REF, 'user'), [show(b)]);
  dropPinHolder(d.ctx(b), [NETNS]);
  assert.not.ok(fs.existsSync(indexDir(d.dir, NETNS)), 'the last holder takes the index dir with it');
  assert.ok(fs.existsSync(join(indexDir(d.dir, USERNS), keyToFileName(b))), 'its userns entry stays');
  dropPinHolder(d.ctx(b), [NETNS, '/run/netns/never']);
  // A record holding no pin (adopt mode, host-owned) enters nothing.
  const host = keyOf('host');
  notePinHolder(d.ctx(host), record(host, { netns: { pin: 'none' }, userns: { path: '', pin: 'none' } }));
  assert.not.ok(fs.existsSync(indexDir(d.dir, NETNS)));
  // An intent to pin the owner is entered (pin "intent" is held), an empty path never.
  notePinHolder(d.ctx(host), record(host, { netns: { pin: 'none' }, userns: { path: '', pin: 'intent' } }));
  assert.not.ok(fs.existsSync(indexDir(d.dir, '')));
});

test('pinCreator: the record of this boot holding both pins of that netns and owner; none when any differs', () => {
  const d = dataDir();
  const creator = keyOf('creator');
  holder(d.ctx(creator), record(creator));
  const found = pinCreator(d.ctx(keyOf('joiner')), NETNS, 11, 22);
  assert.equal(found?.key, creator);
  assert.is(found?.record.containerId, 'creator');
  assert.is(pinCreator(d.ctx(keyOf('joiner')), NETNS, 12, 22), undefined, 'other netns inode');
  assert.is(pinCreator(d.ctx(keyOf('joiner')), NETNS, 11, 23), undefined, 'other owner');
  assert.is(pinCreator(d.ctx(creator), NETNS, 11, 22), undefined, 'not itself');
  for (const [id, over] of [
    ['net-none', { netns: { pin: 'none' } }],
    ['user-none', { userns: { pin: 'none' } }],
    ['user-no-path', { userns: { path: '' } }],
    ['old-boot', { bootId: OTHER_BOOT }],
    ['other-path', { netns: { path: '/run/netns/other' } }],
  ] as const) {
    const d2 = dataDir();
    const k = keyOf(id);
    notePinHolder(d2.ctx(k), record(k));
    d2.ctx(k).store.put(k, record(k, over));
    assert.is(pinCreator(d2.ctx(keyOf('joiner')), NETNS, 11, 22), undefined, id);
  }
  const d3 = dataDir();
  const dam = keyOf('damaged');
  damaged(d3.ctx(dam), JSON.stringify(record(dam)).slice(0, -10));
  assert.is(pinCreator(d3.ctx(keyOf('joiner')), NETNS, 11, 22), undefined, 'a damaged record is joined by no one');
});

test('usernsPinHolder: the record of this boot holding that owner pin (pinned or intended), none when it differs', () => {
  const d = dataDir();
  const adopter = keyOf('adopter');
  holder(d.ctx(adopter), record(adopter, { netns: { pin: 'none' }, userns: { pin: 'intent' } }));
  assert.equal(usernsPinHolder(d.ctx(keyOf('second')), USERNS, 22)?.key, adopter);
  assert.is(usernsPinHolder(d.ctx(keyOf('second')), USERNS, 23), undefined, 'other inode');
  assert.is(usernsPinHolder(d.ctx(adopter), USERNS, 22), undefined, 'not itself');
  for (const [id, over] of [
    ['none', { userns: { pin: 'none' } }],
    ['old-boot', { bootId: OTHER_BOOT }],
    ['other-path', { userns: { path: '/run/userns/other' } }],
  ] as const) {
    const d2 = dataDir();
    const k = keyOf(id);
    notePinHolder(d2.ctx(k), record(k));
    d2.ctx(k).store.put(k, record(k, over));
    assert.is(usernsPinHolder(d2.ctx(keyOf('second')), USERNS, 22), undefined, id);
  }
  const d3 = dataDir();
  const dam = keyOf('damaged');
  damaged(d3.ctx(dam), JSON.stringify(record(dam)).slice(0, -10));
  assert.is(usernsPinHolder(d3.ctx(keyOf('second')), USERNS, 22), undefined);
});

test("usernsPinPathFor: the netns file's name in the userns pin dir; a /proc path spells one", () => {
  assert.is(usernsPinPathFor('/run/netns/cni-1234', '/run/userns'), '/run/userns/cni-1234');
  assert.is(usernsPinPathFor('/var/run/netns/x', '/srv/u'), '/srv/u/x');
  assert.is(usernsPinPathFor('/proc/4242/ns/net', '/run/userns'), '/run/userns/proc-4242-ns-net');
  assert.is(usernsPinPathFor('/proc/4242/task/4243/ns/net', '/run/userns'), '/run/userns/proc-4242-task-4243-ns-net');
});

test('ourPinPairAt: a netns with its owner pinned beside it (that very userns) is ours; anything else at the userns path is not', async () => {
  const p = pinPaths();
  const q = pinPaths();
  try {
    const a = await createPinnedNamespaces({ mappings: ONE, ...p });
    const b = await createPinnedNamespaces({ mappings: ONE, ...q });
    assert.is(ourPinPairAt(p.netnsPin, a.usernsInode, USER_DIR), p.usernsPin);
    assert.is(ourPinPairAt(p.netnsPin, b.usernsInode, USER_DIR), undefined, 'another owner than the one pinned beside it');
    assert.is(ourPinPairAt(p.netnsPin, a.netnsInode, NET_DIR), undefined, 'a netns pin (of that inode) at that path is no owner pin');
    assert.is(ourPinPairAt(`${NET_DIR}/${uniq()}`, a.usernsInode, USER_DIR), undefined, 'nothing pinned beside it');
    const plain = `${USER_DIR}/${uniq()}`;
    fs.writeFileSync(plain, '');
    assert.is(ourPinPairAt(`/run/netns/${plain.slice(USER_DIR.length + 1)}`, a.usernsInode, USER_DIR), undefined, 'a plain file');
    fs.rmSync(plain);
  } finally {
    safeUnpin(p.netnsPin, p.usernsPin, q.netnsPin, q.usernsPin);
  }
});

test.run();
