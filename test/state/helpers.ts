// Shared by the state tests: private temp dirs that are always removed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CniError } from '../../src/cni/errors';

export async function withTempDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'userns-netns-state-'));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs fn, expects a CniError with `code`, returns it for further checks. */
export async function expectCniError(code: number, fn: () => unknown): Promise<CniError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof CniError && err.code === code) return err;
    throw new Error(`expected CniError ${code}, got ${err instanceof CniError ? `CniError ${err.code}: ${err.message}` : String(err)}`);
  }
  throw new Error(`expected CniError ${code}, but nothing was thrown`);
}

export function modeOf(p: string): number {
  return fs.lstatSync(p).mode & 0o7777;
}
