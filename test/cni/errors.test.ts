// The one way to report several errors keeps all of them; a lock timeout carries its fields.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CniError, CombinedError, LockTimeoutError, combineErrors } from '../../src/cni/errors';

test("combineErrors keeps every error, in order, with the first one's code unless told", () => {
  const a = new CniError(11, 'first failed', { details: 'delegate "a"' });
  const b = new CniError(7, 'second failed');
  const c = combineErrors([a, b, new Error('third')], { heading: (n) => `${n} steps failed` })!;
  assert.instance(c, CombinedError);
  assert.is(c.code, 11);
  assert.is(c.message, '3 steps failed: first failed; second failed; internal error: third');
  assert.is(c.details, 'delegate "a"');
  assert.is(c.errors.length, 3);
  assert.is(c.errors[1], b);
  assert.is(combineErrors([b], { code: 50, heading: () => 'plugin not available' })!.message, 'plugin not available: second failed');
  assert.is(combineErrors([b])!.message, 'second failed');
  assert.is(combineErrors([]), undefined);
});

test('LockTimeoutError.because keeps path, timeout and holders and explains the lock', () => {
  const e = new LockTimeoutError({ path: '/d/locks/x.lock', timeoutMs: 300, holders: [42] }, 'another operation is running');
  assert.is(e.code, 11);
  assert.is(e.message, 'timed out after 300ms waiting for lock /d/locks/x.lock (held by pid 42); another operation is running');
  const w = e.because('the table is busy', 'allocator: ');
  assert.instance(w, LockTimeoutError);
  assert.equal([w.path, w.timeoutMs, w.holders], ['/d/locks/x.lock', 300, [42]]);
  assert.is(w.message, 'allocator: timed out after 300ms waiting for lock /d/locks/x.lock (held by pid 42); the table is busy');
  assert.is(w.cause, e);
});

test.run();
