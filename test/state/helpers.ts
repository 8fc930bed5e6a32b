// Shared by the state tests. Temp dirs and CniError assertions are the common ones in
// test/helpers (re-exported here for files that import them from this module).
import fs from 'node:fs';

export { expectCniError } from '../helpers/cni-errors';
export { withTempDir } from '../helpers/temp';

export function modeOf(p: string): number {
  return fs.lstatSync(p).mode & 0o7777;
}
