// A waiter takes a lock soon after its holder lets go, not at its own deadline: lock.ts backs
// off at most 50 ms between tries, so a DEL waiting out a long ADD starts right after it. The
// bound checked is 2 s after the release, forty times the backoff cap: this is a liveness
// check (a waiter that slept until its 30 s deadline), not a speed target (npm run bench).
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLock } from '../../src/state/lock';
import { holdFlock } from '../helpers/flock-holder';
import { withTempDir } from './helpers';

test('a lock released after 1 s is taken within 2 s of its release by a waiter whose deadline is 30 s away', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, 'h.lock');
    const held = await holdFlock(lockPath);
    let releasedAt = 0; // when the holder is killed: the kernel drops its lock as it dies
    const releasing = new Promise<void>((resolve) =>
      setTimeout(() => {
        releasedAt = Date.now();
        void held.release().then(resolve);
      }, 1000),
    );
    try {
      let gotAt = 0;
      await withLock(lockPath, { timeoutMs: 30_000 }, () => {
        gotAt = Date.now();
      });
      await releasing;
      assert.ok(releasedAt > 0 && gotAt >= releasedAt, 'taken only once released');
      assert.ok(gotAt - releasedAt < 2000, `taken ${gotAt - releasedAt} ms after the release`);
    } finally {
      await held.release();
    }
  }));

test.run();
