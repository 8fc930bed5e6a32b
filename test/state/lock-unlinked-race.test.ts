// The race removeOnRelease opens (lock.ts: stillAtPath): a holder unlinks the lock file as it
// releases; a waiter then locks the unlinked inode while a newcomer has already made and locked
// a new file at the path. The waiter must see that its inode is no longer the one at the path
// and wait for the newcomer: two holders at once would run two ADDs or DELs of one attachment.
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLock } from '../../src/state/lock';
import { withTempDir } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a waiter on an unlinked lock file waits for the newcomer that took the new file, then gets in', () =>
  withTempDir(async (dir) => {
    const p = path.join(dir, 'k.lock');
    const inside: string[] = [];
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    const first = withLock(p, { timeoutMs: 1000 }, async (lock) => {
      lock.removeOnRelease();
      await firstHeld;
    });
    await sleep(10);
    const waiter = withLock(p, { timeoutMs: 10_000 }, () => {
      inside.push('waiter');
    }); // has the first file open, polling it
    await sleep(20);
    releaseFirst();
    await first; // the file is unlinked and unlocked; no timer has run since
    let releaseNewcomer!: () => void;
    const newcomerHeld = new Promise<void>((r) => (releaseNewcomer = r));
    const newcomer = withLock(p, { timeoutMs: 1000 }, async () => {
      inside.push('newcomer');
      await newcomerHeld;
      inside.push('newcomer done');
    });
    await sleep(300); // several of the waiter's polls (at most 50 ms apart)
    assert.equal(inside, ['newcomer'], 'the waiter got in while the newcomer held the lock');
    releaseNewcomer();
    await newcomer;
    await waiter;
    assert.equal(inside, ['newcomer', 'newcomer done', 'waiter']);
  }));

test.run();
