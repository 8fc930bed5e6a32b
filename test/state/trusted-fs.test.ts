// The trusted-filesystem layer's rules, one refusal each, every message naming the path: what
// the records, the id table, the VERSION cache and the run-time cache (addon, code cache) get.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../src/cni/errors';
import { checkPrivateDir, ensurePrivateDir, readTrustedFile, removeFileDurable, trustedFileSize, writeFileAtomic } from '../../src/sys/trusted-fs';
import { expectCniError, modeOf, withTempDir } from './helpers';

const NOBODY = 65534;

/** Expects a refusal (code 102) whose message names `p` and says `why`. */
async function refused(p: string, why: string | RegExp, fn: () => unknown): Promise<void> {
  const err = await expectCniError(ErrorCode.StateFailure, fn);
  assert.ok(err.message.includes(p), `message names ${p}: ${err.message}`);
  assert.match(err.message, why);
}

test('read: a symlink is refused, not followed', () =>
  withTempDir(async (dir) => {
    fs.writeFileSync(path.join(dir, 'target'), 'secret', { mode: 0o600 });
    const link = path.join(dir, 'link');
    fs.symlinkSync(path.join(dir, 'target'), link);
    await refused(link, 'is a symbolic link; refusing to follow it', () => readTrustedFile(link));
    await refused(link, 'is a symbolic link', () => trustedFileSize(link));
  }));

test('read: a FIFO is refused at once (open never waits for a writer)', () =>
  withTempDir(async (dir) => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', ['-m', '0600', fifo]);
    await refused(fifo, 'is a FIFO, not a regular file', () => readTrustedFile(fifo));
  }));

test('read: a file of another owner, or writable by group or others, is refused', () =>
  withTempDir(async (dir) => {
    const foreign = path.join(dir, 'foreign');
    fs.writeFileSync(foreign, '{}', { mode: 0o600 });
    fs.chownSync(foreign, NOBODY, NOBODY);
    await refused(foreign, `is owned by uid ${NOBODY}, not root`, () => readTrustedFile(foreign));
    const writable = path.join(dir, 'writable');
    fs.writeFileSync(writable, '{}');
    fs.chmodSync(writable, 0o620);
    await refused(writable, 'is writable by group or others (mode 0620)', () => readTrustedFile(writable));
    const mine = path.join(dir, 'mine');
    fs.writeFileSync(mine, 'ok', { mode: 0o644 });
    assert.is(readTrustedFile(mine)?.toString(), 'ok', 'a root-owned 0644 file is fine: no one else can change it');
    assert.is(trustedFileSize(mine), 2);
    assert.is(readTrustedFile(path.join(dir, 'missing')), undefined);
  }));

test('directory: a symlink, a group-writable one, a foreign one are refused for use and for writes into them', () =>
  withTempDir(async (dir) => {
    const real = path.join(dir, 'real');
    fs.mkdirSync(real, { mode: 0o700 });
    const link = path.join(dir, 'link');
    fs.symlinkSync(real, link);
    await refused(link, 'is a symbolic link; refusing to follow it', () => ensurePrivateDir(link));
    await refused(link, 'is a symbolic link', () => writeFileAtomic(link, 'f', 'x'));

    const group = path.join(dir, 'group');
    fs.mkdirSync(group);
    fs.chmodSync(group, 0o770);
    await refused(group, 'is writable by group or others (mode 0770)', () => ensurePrivateDir(group));
    await refused(group, 'is writable by group or others', () => checkPrivateDir(group));
    await refused(group, 'is writable by group or others', () => writeFileAtomic(group, 'f', 'x'));
    await refused(group, 'is writable by group or others', () => removeFileDurable(group, 'f'));

    const foreign = path.join(dir, 'foreign');
    fs.mkdirSync(foreign, { mode: 0o700 });
    fs.chownSync(foreign, NOBODY, NOBODY);
    await refused(foreign, `is owned by uid ${NOBODY}, not root`, () => ensurePrivateDir(foreign));
    await refused(foreign, `is owned by uid ${NOBODY}`, () => writeFileAtomic(foreign, 'f', 'x'));
    for (const d of [real, group, foreign]) assert.equal(fs.readdirSync(d), [], `nothing written into ${d}`);
  }));

test('ancestors: one writable by others (not sticky) or foreign is refused; sticky and symlinked ones are fine', () =>
  withTempDir(async (dir) => {
    const open = path.join(dir, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    await refused(open, 'is writable by group or others (mode 0777) and not sticky', () => ensurePrivateDir(path.join(open, 'state')));
    assert.not.ok(fs.existsSync(path.join(open, 'state')), 'nothing created under it');
    fs.mkdirSync(path.join(open, 'made-before'), { mode: 0o700 });
    await refused(open, 'not sticky', () => checkPrivateDir(path.join(open, 'made-before')));

    const theirs = path.join(dir, 'theirs');
    fs.mkdirSync(theirs, { mode: 0o755 });
    fs.chownSync(theirs, NOBODY, NOBODY);
    await refused(theirs, `is owned by uid ${NOBODY}`, () => ensurePrivateDir(path.join(theirs, 'state')));
    assert.not.ok(fs.existsSync(path.join(theirs, 'state')));

    const sticky = path.join(dir, 'sticky');
    fs.mkdirSync(sticky);
    fs.chmodSync(sticky, 0o1777); // like /tmp: others cannot rename or remove our entries
    ensurePrivateDir(path.join(sticky, 'state'));
    assert.is(modeOf(path.join(sticky, 'state')), 0o700);

    fs.mkdirSync(path.join(dir, 'run'), { mode: 0o755 });
    fs.symlinkSync(path.join(dir, 'run'), path.join(dir, 'varrun')); // like /var/run -> /run
    ensurePrivateDir(path.join(dir, 'varrun', 'state'));
    assert.ok(checkPrivateDir(path.join(dir, 'varrun', 'state')));
  }));

test('write: a symlink, a FIFO or a directory at the name is refused and left as it is', () =>
  withTempDir(async (dir) => {
    const d = path.join(dir, 'd');
    ensurePrivateDir(d);
    fs.writeFileSync(path.join(dir, 'victim'), 'precious');
    fs.symlinkSync(path.join(dir, 'victim'), path.join(d, 'link'));
    execFileSync('mkfifo', [path.join(d, 'fifo')]);
    fs.mkdirSync(path.join(d, 'sub'));
    await refused(path.join(d, 'link'), 'is a symbolic link; refusing to replace it', () => writeFileAtomic(d, 'link', 'x'));
    await refused(path.join(d, 'fifo'), 'is a FIFO; refusing to replace it', () => writeFileAtomic(d, 'fifo', 'x'));
    await refused(path.join(d, 'sub'), 'is a directory; refusing to replace it', () => writeFileAtomic(d, 'sub', 'x'));
    assert.is(fs.readFileSync(path.join(dir, 'victim'), 'utf8'), 'precious');
    assert.equal(fs.readdirSync(d).sort(), ['fifo', 'link', 'sub'], 'no temp file left');
  }));

test.run();
