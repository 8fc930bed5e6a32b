// Which lock files a record store removes (record-store.ts: withLock's release, sweepLocks):
// only those of keys known to have no record. A key with a record keeps its lock file, whatever
// is at it (a planted symlink is for that key's own verbs to refuse); a foreign name that only
// shares a lock name's stem is not that lock; and when it cannot be told whether the record
// exists, the lock file is kept.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../src/cni/errors';
import { type AttachmentKey, RecordStore } from '../../src/state/record-store';
import { expectCniError, withTempDir } from './helpers';

const key = (containerId: string): AttachmentKey => ({ network: 'net1', containerId, ifname: 'eth0' });

test('a key with a record and a symlink at its lock: the sweep neither touches nor reports it', () =>
  withTempDir(async (dir) => {
    const store = new RecordStore(dir);
    store.put(key('live'), { ip: '10.0.0.2' });
    const link = store.lockFor(key('live'));
    fs.symlinkSync(path.join(dir, 'target'), link);
    assert.is(await store.sweepLocks(), 0);
    assert.ok(fs.lstatSync(link).isSymbolicLink());
  }));

test("a foreign file sharing a lock name's stem is not that lock: the symlinked lock is reported once", () =>
  withTempDir(async (dir) => {
    const store = new RecordStore(dir);
    const link = store.lockFor(key('x'));
    fs.symlinkSync(path.join(dir, 'target'), link);
    const foreign = `${link.slice(0, -'.lock'.length)}.keep`; // net1+x+eth0.keep
    fs.writeFileSync(foreign, 'theirs', { mode: 0o600 });
    const err = await expectCniError(ErrorCode.StateFailure, () => store.sweepLocks());
    assert.is(err.message, `lock file ${link} is a symbolic link; refusing to follow it`);
    assert.is(fs.readFileSync(foreign, 'utf8'), 'theirs');
  }));

test('when whether the record exists cannot be told (records/ is not a directory), the lock file is kept', () =>
  withTempDir(async (dir) => {
    const store = new RecordStore(dir);
    const lock = store.lockFor(key('c1'));
    fs.writeFileSync(path.join(dir, 'records'), 'not a directory', { mode: 0o600 });
    await store.withLock(key('c1'), { timeoutMs: 1000 }, () => {});
    assert.ok(fs.existsSync(lock), 'kept: a record may be there');
  }));

test.run();
