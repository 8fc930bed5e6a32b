// The pin-holders index (pin-owners.ts) when what is on disk is not what we made: a file where
// a pin's index dir belongs, a symlinked pin-holders/, a symlink at a holder's entry. Who holds a
// pin is then read from every record of the data dir (DEL still finishes and never unpins from
// under another holder), nothing is written or pruned through a link, and an ADD entering itself
// is refused (102) naming the path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { AttachmentContext } from '../../src/attachment/context';
import { openStore } from '../../src/attachment/context';
import { dropPinHolder, notePinHolder, otherPinHolders, pinCreator } from '../../src/attachment/pin-owners';
import { ErrorCode } from '../../src/cni/errors';
import { keyToFileName, type AttachmentKey } from '../../src/state/names';
import { pathHash } from '../../src/sys/path-hash';
import { expectCniError } from '../helpers/cni-errors';
import { cleanupRoot, ROOT, uniq } from '../helpers/ns-util';
import { NET_REF, NETNS, USERNS, pinRecord } from './helpers/pin-record';

test.after(() => cleanupRoot());

const keyOf = (containerId: string): AttachmentKey => ({ network: 'net1', containerId, ifname: 'eth0' });
const record = pinRecord;

/** A data dir where `holders` are entered and recorded as ADD leaves them; contexts for any key. */
function dataDirWith(...holders: string[]): { dir: string; ctx: (k: AttachmentKey) => AttachmentContext } {
  const dir = `${ROOT}/data-${uniq()}`;
  const store = openStore(dir);
  const ctx = (key: AttachmentKey) => ({ store, key }) as AttachmentContext;
  for (const h of holders) {
    notePinHolder(ctx(keyOf(h)), record(keyOf(h)));
    store.put(keyOf(h), record(keyOf(h)));
  }
  return { dir, ctx };
}

const indexDir = (dir: string, pin: string) => join(dir, 'pin-holders', pathHash(pin));

test("a file where a pin's index dir belongs: its holders are found from the records, and the file stays", () => {
  const d = dataDirWith('a', 'b');
  fs.rmSync(indexDir(d.dir, NETNS), { recursive: true });
  fs.writeFileSync(indexDir(d.dir, NETNS), 'not an index');
  assert.equal(otherPinHolders(d.ctx(keyOf('a')), NET_REF, 'net'), ['net1/b/eth0']);
  assert.equal(otherPinHolders(d.ctx(keyOf('c')), NET_REF, 'net').sort(), ['net1/a/eth0', 'net1/b/eth0']);
  assert.is(pinCreator(d.ctx(keyOf('c')), NETNS, 11, 22)?.key.containerId, 'a');
  dropPinHolder(d.ctx(keyOf('a')), [NETNS]);
  assert.is(fs.readFileSync(indexDir(d.dir, NETNS), 'utf8'), 'not an index');
});

test('a symlinked pin-holders/: holders come from the records; nothing is entered, pruned or removed through the link', async () => {
  const d = dataDirWith('a');
  const elsewhere = `${ROOT}/elsewhere-${uniq()}`;
  fs.renameSync(join(d.dir, 'pin-holders'), elsewhere); // what the link points at: an index look-alike
  fs.symlinkSync(elsewhere, join(d.dir, 'pin-holders'));
  const theirEntry = join(elsewhere, pathHash(NETNS), keyToFileName(keyOf('gone')));
  fs.writeFileSync(theirEntry, ''); // an entry without a record: pruned were it our index

  assert.equal(otherPinHolders(d.ctx(keyOf('b')), NET_REF, 'net'), ['net1/a/eth0']);
  assert.ok(fs.existsSync(theirEntry), 'not pruned through the link');
  dropPinHolder(d.ctx(keyOf('a')), [NETNS, USERNS]);
  assert.ok(fs.existsSync(join(elsewhere, pathHash(NETNS), keyToFileName(keyOf('a')))), 'not removed through the link');
  const err = await expectCniError(ErrorCode.StateFailure, () => notePinHolder(d.ctx(keyOf('b')), record(keyOf('b'))));
  assert.match(err.message, `directory ${join(d.dir, 'pin-holders')} is a symbolic link`);
  assert.not.ok(fs.existsSync(join(elsewhere, pathHash(NETNS), keyToFileName(keyOf('b')))), 'nothing entered through it');
});

test("a symlink at one pin's index dir: holders come from the records, and nothing is pruned through it", () => {
  const d = dataDirWith('a');
  const elsewhere = `${ROOT}/elsewhere-${uniq()}`;
  fs.renameSync(indexDir(d.dir, NETNS), elsewhere);
  fs.symlinkSync(elsewhere, indexDir(d.dir, NETNS));
  const theirEntry = join(elsewhere, keyToFileName(keyOf('gone')));
  fs.writeFileSync(theirEntry, ''); // an entry without a record: pruned were it our index
  assert.equal(otherPinHolders(d.ctx(keyOf('b')), NET_REF, 'net'), ['net1/a/eth0']);
  dropPinHolder(d.ctx(keyOf('a')), [NETNS]);
  assert.ok(fs.existsSync(theirEntry), 'not pruned through the link');
  assert.ok(fs.existsSync(join(elsewhere, keyToFileName(keyOf('a')))), 'not removed through the link');
});

test("a symlink at a holder's entry: entering refuses it (102) and leaves its target as it was", async () => {
  const d = dataDirWith('a');
  const target = `${ROOT}/target-${uniq()}`;
  fs.writeFileSync(target, 'precious');
  const entry = join(indexDir(d.dir, NETNS), keyToFileName(keyOf('b')));
  fs.symlinkSync(target, entry);
  const err = await expectCniError(ErrorCode.StateFailure, () => notePinHolder(d.ctx(keyOf('b')), record(keyOf('b'))));
  assert.is(err.message, `pin holder entry ${entry} is a symbolic link; refusing to follow it`);
  assert.is(fs.readFileSync(target, 'utf8'), 'precious');
});

test.run();
