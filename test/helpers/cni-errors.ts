// Assertions on the one error type: a CniError thrown (or rejected), optionally with its code.
import * as assert from 'uvu/assert';
import { CniError } from '../../src/cni/errors';

export function throwsCni(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    assert.instance(e, CniError, `expected CniError, got ${String(e)}`);
    return e as CniError;
  }
  assert.unreachable('expected a CniError');
  throw new Error('unreachable');
}

export async function rejectsCni(p: Promise<unknown>): Promise<CniError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, CniError, `expected CniError, got ${String(e)}`);
    return e as CniError;
  }
  assert.unreachable('expected the promise to reject');
  throw new Error('unreachable');
}

/** Runs fn (sync or async), expects a CniError with `code`, returns it for further checks. */
export async function expectCniError(code: number, fn: () => unknown): Promise<CniError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof CniError && err.code === code) return err;
    throw new Error(`expected CniError ${code}, got ${err instanceof CniError ? `CniError ${err.code}: ${err.message}` : String(err)}`);
  }
  throw new Error(`expected CniError ${code}, but nothing was thrown`);
}
