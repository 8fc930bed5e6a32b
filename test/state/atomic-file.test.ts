import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../src/cni/errors';
import { checkPrivateDir, ensurePrivateDir, readFileNoFollow, removeFileDurable, sweepTempFiles, writeFileAtomic } from '../../src/state/atomic-file';
import { expectCniError, modeOf, withTempDir } from './helpers';

test('writeFileAtomic writes a 0600 file, replaces it, and leaves no temp file', () =>
  withTempDir((dir) => {
    const prevUmask = process.umask(0); // umask 0: the mode must still be exactly 0600
    try {
      writeFileAtomic(dir, 'rec.json', 'one');
      assert.is(fs.readFileSync(path.join(dir, 'rec.json'), 'utf8'), 'one');
      assert.is(modeOf(path.join(dir, 'rec.json')), 0o600);
      writeFileAtomic(dir, 'rec.json', Buffer.from('two'));
      assert.is(fs.readFileSync(path.join(dir, 'rec.json'), 'utf8'), 'two');
      assert.equal(fs.readdirSync(dir), ['rec.json']);
    } finally {
      process.umask(prevUmask);
    }
  }));

test('writeFileAtomic refuses a symlink at the target and leaves the link target unchanged', () =>
  withTempDir(async (dir) => {
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'precious');
    fs.mkdirSync(path.join(dir, 'd'));
    fs.symlinkSync(victim, path.join(dir, 'd', 'rec.json'));
    await expectCniError(ErrorCode.StateFailure, () => writeFileAtomic(path.join(dir, 'd'), 'rec.json', 'evil'));
    assert.is(fs.readFileSync(victim, 'utf8'), 'precious');
    assert.ok(fs.lstatSync(path.join(dir, 'd', 'rec.json')).isSymbolicLink());
    assert.equal(fs.readdirSync(path.join(dir, 'd')), ['rec.json'], 'no temp file left');
  }));

test('writeFileAtomic refuses a directory that is a symlink and writes nothing through it', () =>
  withTempDir(async (dir) => {
    const real = path.join(dir, 'real');
    fs.mkdirSync(real, { mode: 0o700 });
    fs.symlinkSync(real, path.join(dir, 'link'));
    await expectCniError(ErrorCode.StateFailure, () => writeFileAtomic(path.join(dir, 'link'), 'rec.json', 'x'));
    assert.equal(fs.readdirSync(real), []);
  }));

test('writeFileAtomic rejects names that are not a single path component', () =>
  withTempDir(async (dir) => {
    for (const name of ['', '.', '..', '../x', 'a/b', 'a\0b', 'x'.repeat(256)]) {
      await expectCniError(ErrorCode.StateFailure, () => writeFileAtomic(dir, name, 'x'));
    }
    assert.equal(fs.readdirSync(dir), []);
    assert.not.ok(fs.existsSync(path.join(path.dirname(dir), 'x')));
  }));

test('readFileNoFollow: content, undefined when missing, refuses symlinks and FIFOs', () =>
  withTempDir(async (dir) => {
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'data');
    assert.is(readFileNoFollow(file)?.toString(), 'data');
    assert.is(readFileNoFollow(path.join(dir, 'missing')), undefined);
    fs.symlinkSync(file, path.join(dir, 'link'));
    await expectCniError(ErrorCode.StateFailure, () => readFileNoFollow(path.join(dir, 'link')));
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    await expectCniError(ErrorCode.StateFailure, () => readFileNoFollow(path.join(dir, 'fifo'))); // must not hang
  }));

test('removeFileDurable removes the file, is fine when it is gone, and unlinks a symlink not its target', () =>
  withTempDir((dir) => {
    fs.writeFileSync(path.join(dir, 'a'), 'x');
    assert.is(removeFileDurable(dir, 'a'), true);
    assert.is(removeFileDurable(dir, 'a'), false);
    fs.writeFileSync(path.join(dir, 'victim'), 'precious');
    fs.symlinkSync(path.join(dir, 'victim'), path.join(dir, 'link'));
    assert.is(removeFileDurable(dir, 'link'), true);
    assert.is(fs.readFileSync(path.join(dir, 'victim'), 'utf8'), 'precious');
  }));

test('ensurePrivateDir creates every missing component 0700, and accepts an existing private dir', () =>
  withTempDir((dir) => {
    const deep = path.join(dir, 'a', 'b', 'c');
    const prevUmask = process.umask(0);
    try {
      ensurePrivateDir(deep);
    } finally {
      process.umask(prevUmask);
    }
    for (const p of [path.join(dir, 'a'), path.join(dir, 'a', 'b'), deep]) assert.is(modeOf(p), 0o700, p);
    ensurePrivateDir(deep); // idempotent
    const shared = path.join(dir, 'ro');
    fs.mkdirSync(shared, { mode: 0o755 });
    fs.chmodSync(shared, 0o755);
    ensurePrivateDir(shared); // root-owned, not writable by others: acceptable as the admin made it
    assert.is(modeOf(shared), 0o755, 'an existing directory is not re-moded');
    assert.is(checkPrivateDir(path.join(dir, 'nope')), false);
    assert.is(checkPrivateDir(deep), true);
  }));

test('ensurePrivateDir accepts a pre-existing symlinked ancestor (like /var/run -> /run)', () =>
  withTempDir((dir) => {
    fs.mkdirSync(path.join(dir, 'run'));
    fs.symlinkSync(path.join(dir, 'run'), path.join(dir, 'varrun'));
    ensurePrivateDir(path.join(dir, 'varrun', 'state'));
    assert.is(modeOf(path.join(dir, 'run', 'state')), 0o700);
  }));

test('ensurePrivateDir refuses a symlink, a file, a foreign owner, a writable dir, and odd paths', () =>
  withTempDir(async (dir) => {
    const target = path.join(dir, 'target');
    fs.mkdirSync(target, { mode: 0o700 });
    fs.symlinkSync(target, path.join(dir, 'link'));
    await expectCniError(ErrorCode.StateFailure, () => ensurePrivateDir(path.join(dir, 'link')));
    fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'dangling'));
    await expectCniError(ErrorCode.StateFailure, () => ensurePrivateDir(path.join(dir, 'dangling')));
    assert.not.ok(fs.existsSync(path.join(dir, 'nowhere')), 'the dangling link was not followed');
    assert.is(modeOf(target), 0o700);

    fs.writeFileSync(path.join(dir, 'file'), '');
    await expectCniError(ErrorCode.StateFailure, () => ensurePrivateDir(path.join(dir, 'file')));

    const foreign = path.join(dir, 'foreign');
    fs.mkdirSync(foreign, { mode: 0o700 });
    fs.chownSync(foreign, 65534, 65534);
    await expectCniError(ErrorCode.StateFailure, () => ensurePrivateDir(foreign));
    await expectCniError(ErrorCode.StateFailure, () => checkPrivateDir(foreign));

    const writable = path.join(dir, 'writable');
    fs.mkdirSync(writable);
    fs.chmodSync(writable, 0o777);
    await expectCniError(ErrorCode.StateFailure, () => ensurePrivateDir(writable));
    fs.chmodSync(writable, 0o770);
    await expectCniError(ErrorCode.StateFailure, () => ensurePrivateDir(writable));

    for (const bad of ['relative/dir', `${dir}/a/../b`, `${dir}/./a`, `${dir}//a`]) {
      await expectCniError(ErrorCode.StateFailure, () => ensurePrivateDir(bad));
    }
  }));

test('sweepTempFiles removes stale temp files only', () =>
  withTempDir((dir) => {
    fs.writeFileSync(path.join(dir, '.rec.json.123.abcd.tmp'), 'old');
    fs.writeFileSync(path.join(dir, '.rec.json.456.ef01.tmp'), 'fresh');
    fs.writeFileSync(path.join(dir, 'rec.json'), 'keep');
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(path.join(dir, '.rec.json.123.abcd.tmp'), old, old);
    assert.is(sweepTempFiles(dir), 1);
    assert.equal(fs.readdirSync(dir).sort(), ['.rec.json.456.ef01.tmp', 'rec.json']);
  }));

test.run();
