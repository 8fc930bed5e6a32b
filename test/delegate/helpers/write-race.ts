// Worker for the concurrent-writers test: rewrites one cache entry many times, as
// several plugin processes probing the same delegate at once would.
import { writeCachedVersions } from '../../../src/delegate/version-cache';

const [cacheDir, binary, tag, rounds] = process.argv.slice(2) as [string, string, string, string];
const id = { path: binary, dev: '1', ino: '2', size: '3', mtimeNs: '4', ctimeNs: '5' };
for (let i = 0; i < Number(rounds); i++) {
  // Different lengths per writer and round, so a torn write would show as bad JSON.
  writeCachedVersions(
    cacheDir,
    id,
    Array.from({ length: 1 + ((i + tag.length) % 40) }, () => `${tag}.0.${i}`),
  );
}
