// GC's sweep of lock files (record-store.ts: sweepLocks) when something in locks/ is not a lock
// file of ours: a symlink or a FIFO at a lock name, a name that is no key. Those stay as they
// are, every stale lock file around them still goes, and the refused ones are reported after
// the sweep (GC lists them as problems): one planted file must not stop GC's housekeeping.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../src/cni/errors';
import { type AttachmentKey, RecordStore } from '../../src/state/record-store';
import { expectCniError, withTempDir } from './helpers';

const key = (containerId: string): AttachmentKey => ({ network: 'net1', containerId, ifname: 'eth0' });

test('a symlink and a FIFO at lock names are left and reported (102, naming both); every stale lock file around them is swept', () =>
  withTempDir(async (dir) => {
    const store = new RecordStore(dir);
    const stale = ['a', 'm', 'z'].map((c) => store.lockFor(key(c)));
    for (const p of stale) fs.writeFileSync(p, '', { mode: 0o600 });
    store.put(key('live'), { ip: '10.0.0.2' });
    const live = store.lockFor(key('live'));
    fs.writeFileSync(live, '', { mode: 0o600 });
    const link = store.lockFor(key('link'));
    const target = path.join(dir, 'target');
    fs.symlinkSync(target, link);
    const fifo = store.lockFor(key('fifo'));
    execFileSync('mkfifo', ['-m', '0600', fifo]);
    const foreign = ['junk.lock', 'notes.txt'].map((n) => path.join(store.locksDir, n));
    for (const p of foreign) fs.writeFileSync(p, 'theirs', { mode: 0o600 });

    const err = await expectCniError(ErrorCode.StateFailure, () => store.sweepLocks());
    assert.match(err.message, `lock file ${link} is a symbolic link; refusing to follow it`);
    assert.match(err.message, `lock file ${fifo} is not a regular file`);
    for (const p of stale) assert.not.ok(fs.existsSync(p), `${p} swept`);
    assert.ok(fs.existsSync(live), 'the lock of a key with a record stays');
    assert.ok(fs.lstatSync(link).isSymbolicLink(), 'the symlink stays');
    assert.not.ok(fs.existsSync(target), 'and was not followed');
    assert.ok(fs.lstatSync(fifo).isFIFO(), 'the FIFO stays');
    for (const p of foreign) assert.is(fs.readFileSync(p, 'utf8'), 'theirs', `${path.basename(p)} untouched`);
  }));

test('once nothing is refused, the sweep counts what it removed and a second sweep finds nothing', () =>
  withTempDir(async (dir) => {
    const store = new RecordStore(dir);
    for (const c of ['a', 'b']) fs.writeFileSync(store.lockFor(key(c)), '', { mode: 0o600 });
    fs.writeFileSync(path.join(store.locksDir, 'junk.lock'), 'theirs', { mode: 0o600 });
    assert.is(await store.sweepLocks(), 2);
    assert.is(await store.sweepLocks(), 0);
    assert.equal(fs.readdirSync(store.locksDir), ['junk.lock']);
  }));

test.run();
