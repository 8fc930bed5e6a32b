// Temp dirs for tests: one name scheme (uxn-<tag>-<run tag>-), always removed, even when the
// test fails. Under TMPDIR, which the root tier makes a private tmpfs (private-host.sh).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUN_TAG } from './unique';

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `uxn-${tag}-${RUN_TAG}-`));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T> | T, tag = 'tmp'): Promise<T> {
  const dir = tempDir(tag);
  try {
    return await fn(dir);
  } finally {
    removeDir(dir);
  }
}
