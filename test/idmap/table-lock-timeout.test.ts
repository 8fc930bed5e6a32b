// underTableLock (allocator.ts) explains a timeout as "the id allocation table is busy" only
// when it is the table lock's own: a lock timeout from inside fn (another lock, taken while the
// table lock is held) reaches the caller as it was, naming its own lock and reason.
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, LockTimeoutError } from '../../src/cni/errors';
import { openStore } from '../../src/attachment/context';
import { underTableLock } from '../../src/idmap/allocator';
import { storeRecords } from '../../src/idmap/store-records';
import { createLogger } from '../../src/log/logger';
import { withLock } from '../../src/state/lock';
import { expectCniError, withTempDir } from '../state/helpers';

test("a timeout of another lock taken under the table lock is not relabelled as the table's", () =>
  withTempDir(async (dir) => {
    const env = { dataDir: dir, lockTimeoutMs: 1000, records: storeRecords(openStore(dir)), log: createLogger({ command: 'GC' }) };
    const keyLock = path.join(dir, 'key.lock');
    await withLock(keyLock, { timeoutMs: 1000 }, async () => {
      const err = await expectCniError(ErrorCode.TryAgainLater, () => underTableLock(env, () => withLock(keyLock, { timeoutMs: 0 }, () => {})));
      assert.instance(err, LockTimeoutError);
      assert.is((err as LockTimeoutError).path, keyLock);
      assert.is(err.message, `timed out after 0ms waiting for lock ${keyLock}; another operation on the same attachment is still running`);
    });
  }));

test.run();
