// Shared bits for the delegate tests: temp dirs, a private copy of the fake delegate
// (so invocation counts and mtimes belong to one test), and error assertions.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import { CniError } from '../../../src/cni/errors';

export const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'fake-delegate.sh');
export const DEBIAN_CNI = '/usr/lib/cni';

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `uxd-${tag}-${process.pid}-`));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** A copy of the fake delegate named `name` in `dir`; returns its path. */
export function installFake(dir: string, name = 'fake'): string {
  const dest = join(dir, name);
  copyFileSync(FIXTURE, dest);
  return dest;
}

/** CNI_COMMAND values the fake in `dir` has seen, in order. */
export function calls(dir: string): string[] {
  try {
    return readFileSync(join(dir, 'calls.log'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
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
