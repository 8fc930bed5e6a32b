// removePin(): a teardown removes a pin only with proof that it is ours - a mount of the very
// namespace (type and inode) it journalled, or a plain file holding its token - and always
// clears the temporary name a reservation killed mid-way may have left. Anything else at the
// path (another ADD's pin, `ip netns add`, a file someone put there) stays.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { cleanupHeading, removePin } from '../../src/attachment/teardown';
import { createPinnedNamespaces } from '../../src/ns/index';
import { reservationTempPath } from '../../src/ns/pins';
import { cleanupRoot, nsfsMountsAt, ONE, pinPaths, ROOT, safeUnpin } from '../helpers/ns-util';
import { present } from '../helpers/host';

const TOKEN = '0123456789abcdef';
const made: string[] = [];

test.after(() => {
  safeUnpin(...made);
  cleanupRoot();
});

async function pinnedPair(): Promise<{ net: string; user: string; netIno: number; userIno: number }> {
  const p = pinPaths();
  made.push(p.netnsPin, p.usernsPin);
  const r = await createPinnedNamespaces({ mappings: ONE, ...p });
  return { net: p.netnsPin, user: p.usernsPin, netIno: r.netnsInode, userIno: r.usernsInode };
}

function plainFile(content: string): string {
  fs.mkdirSync(`${ROOT}/files`, { recursive: true });
  const path = `${ROOT}/files/${pinPaths().name}`;
  fs.writeFileSync(path, content);
  made.push(path);
  return path;
}

test('a mount of the journalled namespace (type and inode) is ours: unmounted and removed', async () => {
  const a = await pinnedPair();
  removePin({ path: a.net, inode: a.netIno, pin: 'pinned' }, 'net');
  removePin({ path: a.user, inode: a.userIno, pin: 'pinned' }, 'user');
  assert.not.ok(present(a.net));
  assert.not.ok(present(a.user));
});

test('a mount of another namespace, or of the other type with the journalled inode, or with no inode journalled, stays', async () => {
  const a = await pinnedPair();
  const b = await pinnedPair();
  removePin({ path: a.net, inode: b.netIno, pin: 'pinned', token: TOKEN }, 'net'); // another ADD's pin took the path
  removePin({ path: a.user, inode: a.userIno, pin: 'pinned' }, 'net'); // a user namespace where a netns was journalled
  removePin({ path: b.net, inode: b.netIno, pin: 'pinned' }, 'user');
  removePin({ path: b.user, pin: 'intent' }, 'user'); // killed before the inode was journalled
  for (const p of [a.net, a.user, b.net, b.user]) assert.is(nsfsMountsAt(p), 1, `${p} must stay mounted`);
});

test('a plain file holding our token is ours (reserved, never mounted); without that token it stays', () => {
  const ours = plainFile(TOKEN);
  removePin({ path: ours, pin: 'intent', token: TOKEN }, 'net');
  assert.not.ok(present(ours));

  const other = plainFile('fedcba9876543210');
  removePin({ path: other, pin: 'intent', token: TOKEN }, 'net');
  assert.is(fs.readFileSync(other, 'utf8'), 'fedcba9876543210', "another reservation's file stays");

  const noToken = plainFile(TOKEN);
  removePin({ path: noToken, pin: 'pinned' }, 'user');
  assert.ok(present(noToken), 'no token journalled: no proof');
});

test('the temporary name of a reservation killed mid-way goes too, whatever is at the pin path', async () => {
  const a = await pinnedPair();
  const tmp = reservationTempPath(a.net, TOKEN);
  fs.writeFileSync(tmp, '');
  removePin({ path: a.net, inode: a.netIno + 1, pin: 'intent', token: TOKEN }, 'net');
  assert.not.ok(present(tmp), 'the temporary name carries our token: ours');
  assert.is(nsfsMountsAt(a.net), 1, 'the pin itself is not proven ours');

  const gone = `${ROOT}/files/never-linked`;
  fs.mkdirSync(`${ROOT}/files`, { recursive: true });
  const gonesTmp = reservationTempPath(gone, TOKEN);
  fs.writeFileSync(gonesTmp, TOKEN);
  removePin({ path: gone, pin: 'intent', token: TOKEN }, 'net');
  assert.not.ok(present(gonesTmp), 'killed before the link: only the temporary name exists');
});

test('a failed cleanup of one step is that error alone; of several, headed by their count', () => {
  assert.is(cleanupHeading(1), undefined);
  assert.is(cleanupHeading(2), '2 cleanup steps failed');
  assert.is(cleanupHeading(3), '3 cleanup steps failed');
});

test.run();
