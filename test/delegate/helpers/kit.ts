// Shared bits for the delegate tests: a private copy of the fake delegate (so invocation
// counts and mtimes belong to one test). Temp dirs and CniError assertions are the common ones
// in test/helpers (re-exported here for files that import them from this module).
import { copyFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CNI_BIN } from '../../helpers/plugin';

export { rejectsCni, throwsCni } from '../../helpers/cni-errors';
export { removeDir, tempDir } from '../../helpers/temp';

export const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'fake-delegate.sh');
export const DEBIAN_CNI = CNI_BIN;

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
