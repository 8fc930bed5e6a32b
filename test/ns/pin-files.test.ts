// The pin-file primitives (src/ns/pins.ts) on their own, on the real kernel: what each one makes,
// what it refuses and the error it names, and that nothing it refuses is touched. The engine and
// the verbs reach these only on their happy paths and a few refusals (create.test.ts, e2e).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { CniError, ErrorCode } from '../../src/cni/errors';
import { bindPin, checkPinPath, closeReservation, ensurePinDir, fileHoldsToken, isLiveNetnsPin, looksLikeReservation, openNsPath, releaseReservation, removeReservationTemp, reservationTempPath, reservePin, unpin } from '../../src/ns/pins';
import { nsfsMountsAt } from '../helpers/ns-util';
import { uniqueName } from '../helpers/unique';

const ROOT = `/run/uxt-pinfiles-${process.pid}`;
const TOKEN = 'a1b2c3d4e5f60718';
const netnsIno = () => fs.statSync('/proc/self/ns/net').ino;

/** A fresh directory of its own for one test. */
function dir(): string {
  const d = `${ROOT}/${uniqueName('pf')}`;
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** `fn` throws a CniError with `code` whose message matches every pattern. */
function throwsCni(fn: () => unknown, code: number, ...patterns: (RegExp | string)[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.instance(err, CniError, 'expected a CniError');
  const e = err as CniError;
  assert.is(e.code, code, e.message);
  for (const p of patterns) assert.ok(typeof p === 'string' ? e.message.includes(p) : p.test(e.message), `${e.message} !~ ${p}`);
}

function mountsUnder(d: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => (l.split(' ')[4] ?? '').startsWith(d));
}

test.after(() => {
  for (const m of mountsUnder(ROOT)
    .map((l) => l.split(' ')[4]!)
    .reverse())
    execFileSync('umount', ['-l', m], { stdio: 'ignore' });
  fs.rmSync(ROOT, { recursive: true, force: true });
});

test('checkPinPath: an absolute normalised file path, else NamespaceFailure naming what and the value', () => {
  assert.is(checkPinPath('/run/netns/a', 'CNI_NETNS'), '/run/netns/a');
  for (const bad of ['run/netns/a', '', 'x', 42, undefined, '/run/netns/\0a']) {
    throwsCni(() => checkPinPath(bad, 'CNI_NETNS'), ErrorCode.NamespaceFailure, 'CNI_NETNS must be an absolute path, got');
  }
  for (const bad of ['/run/netns/../a', '/run//netns/a', '/run/netns/a/', '/run/./a', '/', '/..']) {
    throwsCni(() => checkPinPath(bad, 'usernsPin'), ErrorCode.NamespaceFailure, 'usernsPin must be a normalised absolute file path, got', JSON.stringify(bad));
  }
});

test('ensurePinDir: makes the dir 0755 and a shared mount of itself, once; refuses a symlink or a file', () => {
  const d = `${dir()}/pins`;
  ensurePinDir(d);
  assert.is(fs.statSync(d).mode & 0o7777, 0o755);
  const own = mountsUnder(d).filter((l) => l.split(' ')[4] === d);
  assert.is(own.length, 1, 'a bind mount of itself');
  assert.match(own[0]!, / shared:\d+/);
  ensurePinDir(d); // already a mount point: made shared again, not stacked
  assert.is(mountsUnder(d).filter((l) => l.split(' ')[4] === d).length, 1);

  const base = dir();
  fs.mkdirSync(`${base}/real`);
  fs.symlinkSync(`${base}/real`, `${base}/link`);
  throwsCni(() => ensurePinDir(`${base}/link`), ErrorCode.NamespaceFailure, `pin directory ${base}/link is not a directory (symlinks are not followed)`);
  assert.is(mountsUnder(`${base}/real`).length, 0, 'the symlink target is not mounted');
  fs.writeFileSync(`${base}/file`, 'x');
  throwsCni(() => ensurePinDir(`${base}/file`), ErrorCode.NamespaceFailure, `pin directory ${base}/file is not a directory`);
  throwsCni(() => ensurePinDir(`${base}/file/pins`), ErrorCode.NamespaceFailure, `pin directory ${base}/file/pins cannot be created: ENOTDIR`);
  assert.is(fs.readFileSync(`${base}/file`, 'utf8'), 'x');
  ensurePinDir(`${base}/a/b/c`);
  assert.ok(fs.statSync(`${base}/a/b/c`).isDirectory(), 'missing parents are made');
  assert.is(fs.statSync(`${base}/a`).mode & 0o7777, 0o755);
});

test('ensurePinDir and reservePin on a read-only filesystem: the message says so', () => {
  const ro = dir();
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro', 'uxt-ro', ro]);
  try {
    throwsCni(() => ensurePinDir(`${ro}/pins`), ErrorCode.NamespaceFailure, `pin directory ${ro}/pins cannot be created: read-only filesystem`);
    throwsCni(() => reservePin(`${ro}/p`, 'netns pin'), ErrorCode.NamespaceFailure, `netns pin ${ro}/p cannot be created: pin directory ${ro} is on a read-only filesystem`);
    throwsCni(() => reservePin(`${ro}/p`, 'netns pin', TOKEN), ErrorCode.NamespaceFailure, `netns pin (temporary name) ${ro}/.p.${TOKEN}.pin cannot be created`, 'read-only');
  } finally {
    execFileSync('umount', [ro]);
  }
});

test('reservePin with a token: the file at the path holds the token, mode 0444, no temporary name left', () => {
  const d = dir();
  const p = `${d}/pin`;
  let seen: string | undefined;
  const r = reservePin(p, 'netns pin', TOKEN, () => {
    seen = fs.readFileSync(reservationTempPath(p, TOKEN), 'utf8');
  });
  try {
    assert.is(seen, '', 'the hook runs with the temporary file made, its token not yet written');
    assert.is(reservationTempPath(p, TOKEN), `${d}/.pin.${TOKEN}.pin`);
    assert.is(fs.readFileSync(p, 'utf8'), TOKEN);
    assert.is(fs.statSync(p).mode & 0o777, 0o444);
    assert.equal(fs.readdirSync(d), ['pin']);
    assert.ok(fileHoldsToken(p, TOKEN));
    assert.ok(looksLikeReservation(p));
    const st = fs.fstatSync(r.fd);
    assert.equal([r.path, r.dev, r.ino, r.mounted], [p, st.dev, st.ino, false]);
  } finally {
    releaseReservation(r);
  }
  assert.not.ok(fs.existsSync(p), 'released: removed');
  assert.is(r.fd, -1);
});

test('reservePin: a path already there is PinExists and stays as it was; a bad token is refused first', () => {
  const d = dir();
  const p = `${d}/pin`;
  fs.writeFileSync(p, 'someone else');
  throwsCni(() => reservePin(p, 'netns pin', TOKEN), ErrorCode.PinExists, `netns pin ${p} already exists; it was left untouched`);
  throwsCni(() => reservePin(p, 'netns pin'), ErrorCode.PinExists, `netns pin ${p} already exists; it was left untouched`);
  assert.is(fs.readFileSync(p, 'utf8'), 'someone else');
  assert.equal(fs.readdirSync(d), ['pin'], 'the temporary name is removed again');
  for (const bad of ['xyz', 'abc', 'A1B2C3D4E5', `${'a'.repeat(65)}`, '../../etc']) {
    throwsCni(() => reservePin(`${d}/other`, 'netns pin', bad), ErrorCode.NamespaceFailure, `pin token must be hex, got ${JSON.stringify(bad)}`);
  }
  assert.equal(fs.readdirSync(d), ['pin']);
  throwsCni(() => reservePin(`${d}/missing/pin`, 'userns pin'), ErrorCode.NamespaceFailure, `userns pin ${d}/missing/pin cannot be created: `);
});

test('removeReservationTemp: a regular file by the temporary name goes (empty or not); anything else stays', () => {
  const d = dir();
  const p = `${d}/pin`;
  const tmp = reservationTempPath(p, TOKEN);
  removeReservationTemp(p, TOKEN); // nothing there
  for (const content of ['', TOKEN, 'other']) {
    fs.writeFileSync(tmp, content);
    removeReservationTemp(p, TOKEN);
    assert.not.ok(fs.existsSync(tmp), `removed with ${JSON.stringify(content)}`);
  }
  fs.mkdirSync(tmp);
  removeReservationTemp(p, TOKEN);
  assert.ok(fs.statSync(tmp).isDirectory(), 'a directory stays');
  fs.rmdirSync(tmp);
  fs.writeFileSync(`${d}/target`, 't');
  fs.symlinkSync(`${d}/target`, tmp);
  removeReservationTemp(p, TOKEN);
  assert.ok(fs.lstatSync(tmp).isSymbolicLink(), 'a symlink stays');
  assert.is(fs.readFileSync(`${d}/target`, 'utf8'), 't');
  fs.writeFileSync(`${d}/file`, '');
  throwsCni(() => removeReservationTemp(`${d}/file/pin`, TOKEN), ErrorCode.NamespaceFailure, `cannot remove the temporary pin ${d}/file/.pin.${TOKEN}.pin:`);
});

test('fileHoldsToken / looksLikeReservation: plain files only, exact sizes, never a FIFO or a symlink', () => {
  const d = dir();
  const f = `${d}/f`;
  const cases: [string, boolean, boolean][] = [
    [TOKEN, true, true],
    [`${TOKEN}\n`, false, false],
    [TOKEN.slice(0, 8), false, true],
    [TOKEN.slice(0, 7), false, false],
    ['a'.repeat(64), false, true],
    ['a'.repeat(65), false, false],
    ['g1b2c3d4', false, false],
    ['', false, false],
  ];
  for (const [content, holds, looks] of cases) {
    fs.writeFileSync(f, content);
    assert.is(fileHoldsToken(f, TOKEN), holds, `holds ${JSON.stringify(content)}`);
    assert.is(looksLikeReservation(f), looks, `looks ${JSON.stringify(content)}`);
  }
  fs.writeFileSync(f, TOKEN);
  fs.symlinkSync(f, `${d}/link`);
  assert.not.ok(fileHoldsToken(`${d}/link`, TOKEN));
  assert.not.ok(looksLikeReservation(`${d}/link`));
  execFileSync('mkfifo', [`${d}/fifo`]);
  assert.not.ok(fileHoldsToken(`${d}/fifo`, TOKEN), 'a FIFO: no block, no');
  assert.not.ok(looksLikeReservation(`${d}/missing`));
});

test('bindPin: the netns at the reserved file, its inode checked; releaseReservation unmounts and removes', () => {
  const d = dir();
  const p = `${d}/pin`;
  const ns = fs.openSync('/proc/self/ns/net', 'r');
  try {
    const r = reservePin(p, 'netns pin', TOKEN);
    bindPin(r, ns, netnsIno());
    assert.ok(r.mounted);
    assert.is(nsfsMountsAt(p), 1);
    assert.ok(isLiveNetnsPin(p, netnsIno()));
    assert.not.ok(looksLikeReservation(p), 'a mounted pin is no plain file');
    releaseReservation(r);
    assert.not.ok(r.mounted);
    assert.is(nsfsMountsAt(p), 0);
    assert.not.ok(fs.existsSync(p));

    const r2 = reservePin(p, 'netns pin', TOKEN);
    throwsCni(() => bindPin(r2, ns, netnsIno() + 1), ErrorCode.NamespaceFailure, `pin ${p} shows inode ${netnsIno()} after mounting, expected namespace inode ${netnsIno() + 1}`);
    assert.ok(r2.mounted, 'mounted, so that the release unmounts it');
    releaseReservation(r2);
    assert.is(nsfsMountsAt(p), 0);

    const r3 = reservePin(p, 'netns pin', TOKEN);
    const closed = fs.openSync('/proc/self/ns/net', 'r');
    fs.closeSync(closed);
    throwsCni(() => bindPin(r3, closed, netnsIno()), ErrorCode.NamespaceFailure, `cannot bind-mount namespace onto ${p}:`);
    assert.not.ok(r3.mounted);
    releaseReservation(r3);
    assert.not.ok(fs.existsSync(p));
  } finally {
    fs.closeSync(ns);
  }
});

test('releaseReservation: a file that replaced ours at the path is not removed; closeReservation twice is fine', () => {
  const d = dir();
  const p = `${d}/pin`;
  const r = reservePin(p, 'netns pin');
  fs.unlinkSync(p);
  fs.writeFileSync(p, 'theirs');
  releaseReservation(r);
  assert.is(fs.readFileSync(p, 'utf8'), 'theirs');
  closeReservation(r);
  assert.is(r.fd, -1);
});

test('fileHoldsToken / looksLikeReservation close every file they open, whatever they find', () => {
  const d = dir();
  fs.writeFileSync(`${d}/token`, TOKEN);
  fs.writeFileSync(`${d}/long`, 'a'.repeat(100));
  execFileSync('mkfifo', [`${d}/fifo`]);
  fs.mkdirSync(`${d}/dir`);
  const open = () => fs.readdirSync('/proc/self/fd').length;
  const before = open();
  for (let i = 0; i < 20; i++) {
    for (const f of ['token', 'long', 'fifo', 'dir']) {
      fileHoldsToken(`${d}/${f}`, TOKEN);
      looksLikeReservation(`${d}/${f}`);
    }
  }
  assert.is(open(), before, 'fds left open');
});

test('reservePin: a path that cannot be created for another reason than being there or read-only says why', () => {
  const d = dir();
  fs.writeFileSync(`${d}/file`, '');
  throwsCni(() => reservePin(`${d}/missing/pin`, 'netns pin'), ErrorCode.NamespaceFailure, `netns pin ${d}/missing/pin cannot be created: ENOENT`);
  throwsCni(() => reservePin(`${d}/file/pin`, 'netns pin', TOKEN), ErrorCode.NamespaceFailure, `netns pin (temporary name) ${d}/file/.pin.${TOKEN}.pin cannot be created: ENOTDIR`);
});

test('reservePin: a link() failing for another reason than EEXIST is that failure, not "already exists"', () => {
  const d = dir();
  const moved = `${d}-moved`;
  // The directory moves away once the temporary file is made: link() finds no such file.
  throwsCni(() => reservePin(`${d}/pin`, 'netns pin', TOKEN, () => fs.renameSync(d, moved)), ErrorCode.NamespaceFailure, `netns pin ${d}/pin cannot be created: ENOENT`);
  // Only what is still at the path we made is ever removed: the moved file is the operator's now.
  assert.equal(fs.readdirSync(moved), [`.pin.${TOKEN}.pin`]);
  fs.rmSync(moved, { recursive: true });
});

test('releaseReservation of a file someone else mounted over: their mount stays, and so does our file under it', () => {
  const d = dir();
  const p = `${d}/pin`;
  fs.writeFileSync(`${d}/theirs`, 'theirs');
  for (const token of [TOKEN, undefined]) {
    const r = reservePin(p, 'netns pin', token);
    execFileSync('mount', ['--bind', `${d}/theirs`, p]);
    releaseReservation(r);
    assert.is(fs.readFileSync(p, 'utf8'), 'theirs', `their mount was taken off (token ${token})`);
    assert.is(mountsUnder(p).length, 1);
    execFileSync('umount', [p]);
    assert.ok(fs.existsSync(p), `our file, now unmounted, was removed from under their mount (token ${token})`);
    fs.unlinkSync(p);
  }
});

test('the pin directory and the parents it makes are 0755 whatever the umask', () => {
  const base = dir();
  const old = process.umask(0);
  try {
    ensurePinDir(`${base}/a/b`);
  } finally {
    process.umask(old);
  }
  assert.equal([fs.statSync(`${base}/a`).mode & 0o7777, fs.statSync(`${base}/a/b`).mode & 0o7777], [0o755, 0o755]);
});

test('unpin: a directory is refused untouched; a pin under more than 16 stacked mounts is an error once 16 came off', () => {
  const d = dir();
  fs.mkdirSync(`${d}/dir`);
  throwsCni(() => unpin(`${d}/dir`), ErrorCode.NamespaceFailure, `cannot unpin ${d}/dir: it is a directory (left untouched)`);
  assert.ok(fs.statSync(`${d}/dir`).isDirectory());
  const p = `${d}/pin`;
  fs.writeFileSync(p, '');
  for (let i = 0; i < 17; i++) execFileSync('mount', ['--bind', '/proc/self/ns/net', p]);
  throwsCni(() => unpin(p), ErrorCode.NamespaceFailure, `cannot remove pin ${p}: EBUSY`);
  assert.is(nsfsMountsAt(p), 1, 'the 17th mount is left for the next DEL');
  unpin(p);
  assert.not.ok(fs.existsSync(p));
});

test('unpin of a pin on a read-only mount: an error naming the pin and EROFS, the file left as it was', () => {
  const d = dir();
  const p = `${d}/pin`;
  fs.writeFileSync(p, '');
  execFileSync('mount', ['--bind', d, d]);
  execFileSync('mount', ['-o', 'remount,bind,ro', d]);
  try {
    throwsCni(() => unpin(p), ErrorCode.NamespaceFailure, `cannot remove pin ${p}: EROFS`);
    assert.ok(fs.existsSync(p));
  } finally {
    execFileSync('umount', [d]);
  }
});

test('openNsPath: a symlink whose path only ends like /proc/<pid>/ns/net is not followed; isLiveNetnsPin closes what it opens', () => {
  const d = dir();
  fs.mkdirSync(`${d}/proc/1/ns`, { recursive: true });
  fs.symlinkSync('/proc/self/ns/net', `${d}/proc/1/ns/net`);
  assert.is(openNsPath(`${d}/proc/1/ns/net`), -1);
  fs.writeFileSync(`${d}/plain`, '');
  const open = () => fs.readdirSync('/proc/self/fd').length;
  const before = open();
  for (let i = 0; i < 20; i++) {
    for (const p of ['/proc/self/ns/net', '/proc/self/ns/user', `${d}/plain`]) isLiveNetnsPin(p, netnsIno());
  }
  assert.is(open(), before, 'fds left open');
});

test('unpin: stacked mounts all come off; a bad path is refused by name', () => {
  const d = dir();
  const p = `${d}/pin`;
  fs.writeFileSync(p, '');
  for (let i = 0; i < 3; i++) execFileSync('mount', ['--bind', '/proc/self/ns/net', p]);
  assert.is(nsfsMountsAt(p), 3);
  unpin(p);
  assert.is(nsfsMountsAt(p), 0);
  assert.not.ok(fs.existsSync(p));
  throwsCni(() => unpin(`${d}/../x`), ErrorCode.NamespaceFailure, 'pin path must be a normalised absolute file path');
  fs.writeFileSync(`${d}/file`, '');
  throwsCni(() => unpin(`${d}/file/pin`), ErrorCode.NamespaceFailure, `cannot unpin ${d}/file/pin:`);
});

test("openNsPath / isLiveNetnsPin: the kernel's /proc links followed, no other symlink; the type and inode checked", () => {
  const d = dir();
  for (const magic of ['/proc/self/ns/net', `/proc/${process.pid}/ns/net`, `/proc/self/task/${process.pid}/ns/net`, '/proc/thread-self/ns/net']) {
    const fd = openNsPath(magic);
    assert.ok(fd >= 0, magic);
    assert.is(fs.fstatSync(fd).ino, netnsIno(), magic);
    fs.closeSync(fd);
    assert.ok(isLiveNetnsPin(magic, netnsIno()), magic);
  }
  fs.symlinkSync('/proc/self/ns/net', `${d}/link`);
  assert.is(openNsPath(`${d}/link`), -1, 'a symlink of ours to a netns is not followed');
  assert.not.ok(isLiveNetnsPin(`${d}/link`));
  assert.is(openNsPath('/proc/self/ns/../ns/net'), -1, 'not the plain /proc/<pid>/ns/<type> form');
  assert.is(openNsPath(d), -1, 'a directory');
  assert.is(openNsPath(`${d}/missing`), -1);
  execFileSync('mkfifo', [`${d}/fifo`]);
  assert.is(openNsPath(`${d}/fifo`), -1, 'a FIFO');
  fs.writeFileSync(`${d}/plain`, '');
  const plain = openNsPath(`${d}/plain`);
  assert.ok(plain >= 0, 'a plain file opens (a dead pin)');
  fs.closeSync(plain);
  assert.not.ok(isLiveNetnsPin(`${d}/plain`), 'but is no netns');
  assert.not.ok(isLiveNetnsPin('/proc/self/ns/user'), 'a namespace of another type');
  assert.not.ok(isLiveNetnsPin('/proc/self/ns/net', netnsIno() + 1), 'another netns');
  assert.ok(isLiveNetnsPin('/proc/self/ns/net'));
  assert.not.ok(isLiveNetnsPin(''));
  assert.not.ok(isLiveNetnsPin(undefined as unknown as string));
});

test.run();
