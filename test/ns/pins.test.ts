import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createPinnedNamespaces, unpin, inspectNamespace, isLiveNetnsPin, hostUsernsInode, nsEnvironment, checkPreconditions } from '../../src/ns/index';
import { CniError, ErrorCode } from '../../src/cni/errors';
import { pinPaths, safeUnpin, cleanupRoot, ONE, ROOT, childPids, nsfsMountsAt } from '../helpers/ns-util';

test.after(() => cleanupRoot());

test('unpin: lazy unmount + unlink, idempotent; already gone is success', async () => {
  const p = pinPaths();
  try {
    const r = await createPinnedNamespaces({ mappings: ONE, ...p });
    assert.ok(isLiveNetnsPin(p.netnsPin, r.netnsInode));
    assert.not.ok(isLiveNetnsPin(p.netnsPin, r.netnsInode + 1));
    assert.not.ok(isLiveNetnsPin(p.usernsPin), 'a userns pin is not a netns pin');
    unpin(p.netnsPin);
    unpin(p.usernsPin);
    assert.not.ok(fs.existsSync(p.netnsPin));
    assert.is(nsfsMountsAt(p.netnsPin), 0);
    assert.not.ok(isLiveNetnsPin(p.netnsPin));
    unpin(p.netnsPin); // again
    unpin(`${p.netnsPin}-never-existed`);
  } finally {
    safeUnpin(p.netnsPin, p.usernsPin);
  }
});

test('unpin: a plain file (dead pin) is removed; a symlink or directory is refused untouched', () => {
  const p = pinPaths();
  fs.mkdirSync(`${ROOT}/misc`, { recursive: true });
  const file = `${ROOT}/misc/plain`;
  fs.writeFileSync(file, '');
  unpin(file);
  assert.not.ok(fs.existsSync(file));
  const link = `${ROOT}/misc/link`;
  fs.symlinkSync(`${ROOT}/misc/target`, link);
  fs.writeFileSync(`${ROOT}/misc/target`, 't');
  assert.throws(
    () => unpin(link),
    (e: unknown) => e instanceof CniError && /symlink/.test(e.message),
  );
  assert.ok(fs.lstatSync(link).isSymbolicLink());
  assert.is(fs.readFileSync(`${ROOT}/misc/target`, 'utf8'), 't');
  assert.throws(() => unpin(`${ROOT}/misc`), /directory/);
  assert.throws(() => unpin('relative/path'), /absolute/);
  void p;
});

test('inspect: /proc/self/ns/net is the host netns owned by the host userns', async () => {
  const i = inspectNamespace('/proc/self/ns/net');
  assert.is(i.exists, true);
  assert.is(i.isNsfsMount, true);
  assert.is(i.nsType, 'net');
  assert.is(i.inode, fs.statSync('/proc/self/ns/net').ino);
  assert.equal(i.owner?.inode, hostUsernsInode());
  assert.is(i.owner?.isHostUserns, true);
  assert.ok(isLiveNetnsPin('/proc/self/ns/net'));
  const m = await inspectNamespace(`/proc/${process.pid}/ns/net`, { withMappings: true });
  assert.equal(m.owner?.mappings?.uidMappings, [{ containerID: 0, hostID: 0, size: 4294967295 }]);
});

test('inspect: missing path, plain file, directory, symlink to a netns', () => {
  fs.mkdirSync(`${ROOT}/misc`, { recursive: true });
  assert.equal(inspectNamespace(`${ROOT}/misc/nope`), { path: `${ROOT}/misc/nope`, exists: false, isNsfsMount: false });
  fs.writeFileSync(`${ROOT}/misc/f`, '');
  assert.equal(inspectNamespace(`${ROOT}/misc/f`), { path: `${ROOT}/misc/f`, exists: true, isNsfsMount: false });
  assert.equal(inspectNamespace(`${ROOT}/misc`), { path: `${ROOT}/misc`, exists: true, isNsfsMount: false });
  fs.symlinkSync('/proc/self/ns/net', `${ROOT}/misc/l`);
  assert.is(inspectNamespace(`${ROOT}/misc/l`).isNsfsMount, false, 'symlinks outside /proc are not followed');
  assert.not.ok(isLiveNetnsPin(`${ROOT}/misc/l`));
});

test('inspect: userns pin reports user type, host parent, its own mappings', async () => {
  const p = pinPaths();
  try {
    const r = await createPinnedNamespaces({ mappings: ONE, ...p });
    const i = await inspectNamespace(p.usernsPin, { withMappings: true });
    assert.is(i.nsType, 'user');
    assert.is(i.inode, r.usernsInode);
    assert.is(i.owner?.isHostUserns, true);
    assert.equal(i.owner?.mappings, ONE);
  } finally {
    safeUnpin(p.netnsPin, p.usernsPin);
  }
});

async function expectFailure(re: RegExp, p = pinPaths(), engine: 'auto' | 'exec' = 'auto'): Promise<void> {
  const before = childPids();
  try {
    await createPinnedNamespaces({ mappings: ONE, ...p, engine });
    assert.unreachable('created');
  } catch (e) {
    assert.instance(e, CniError);
    assert.is((e as CniError).code, ErrorCode.NamespaceFailure);
    assert.match((e as Error).message, re);
  } finally {
    safeUnpin(p.netnsPin, p.usernsPin);
  }
  assert.not.ok(fs.existsSync(p.netnsPin));
  assert.not.ok(fs.existsSync(p.usernsPin));
  assert.equal(childPids(), before);
}

test('precondition: user.max_user_namespaces = 0', async () => {
  const fake = `${ROOT}/misc/max_user_namespaces`;
  fs.mkdirSync(`${ROOT}/misc`, { recursive: true });
  fs.writeFileSync(fake, '0\n');
  const saved = nsEnvironment.maxUserNamespacesPath;
  nsEnvironment.maxUserNamespacesPath = fake;
  try {
    await expectFailure(/max_user_namespaces = 0/);
  } finally {
    nsEnvironment.maxUserNamespacesPath = saved;
  }
});

test('precondition: missing helper binaries', async () => {
  const empty = `${ROOT}/misc/emptybin`;
  fs.mkdirSync(empty, { recursive: true });
  const saved = nsEnvironment.helperDirs;
  nsEnvironment.helperDirs = [empty];
  try {
    await expectFailure(/helper binary nsenter not found/, pinPaths(), 'exec');
  } finally {
    nsEnvironment.helperDirs = saved;
  }
  checkPreconditions();
});

test('precondition: pin directory on a read-only filesystem', async () => {
  const ro = `${ROOT}/ro`;
  fs.mkdirSync(`${ro}/netns`, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'uxt-ro', `${ro}/netns`]);
  try {
    await expectFailure(/read-only/, { name: 'x', netnsPin: `${ro}/netns/x`, usernsPin: `${ROOT}/userns/x` });
  } finally {
    execFileSync('umount', ['-R', '-l', `${ro}/netns`]);
  }
});

test.run();
