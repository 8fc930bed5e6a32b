// The third-party files a self-contained executable is made of: the Node binary and koffi's
// addon for one architecture, taken from the npm registry's per-architecture packages at the
// exact versions in build/sea-pins.json. npm refuses to install a package for another CPU, so
// the tarball is fetched with `npm pack` (the ordinary client, its cache, its registry), checked
// against the pinned sha512 integrity, and the one file we need is checked against its pinned
// sha256. Verified files are kept in node_modules/.cache, named by that sha256.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

function checkedFile(path, want) {
  if (!existsSync(path)) return undefined;
  const buf = readFileSync(path);
  return sha256(buf) === want ? buf : undefined;
}

/**
 * `innerPath` of package `spec` (name@version): verified bytes, from the cache, a local copy
 * (`localPath`, e.g. node_modules, still checked), or the registry.
 */
export function packageFile(root, { spec, integrity, innerPath, sha256: want, localPath }) {
  const cacheDir = join(root, 'node_modules/.cache/userns-netns-sea');
  const cached = join(cacheDir, want);
  const hit = checkedFile(cached, want) ?? (localPath ? checkedFile(localPath, want) : undefined);
  if (hit) return { path: existsSync(cached) ? cached : localPath, bytes: hit };

  mkdirSync(cacheDir, { recursive: true });
  const tmp = mkdtempSync(join(cacheDir, 'pack-'));
  try {
    const out = execFileSync('npm', ['pack', spec, '--json', '--pack-destination', tmp, '--loglevel=error'], { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const [info] = JSON.parse(out);
    const tgz = readFileSync(join(tmp, info.filename));
    const got = `sha512-${createHash('sha512').update(tgz).digest('base64')}`;
    if (got !== integrity) throw new Error(`sea: ${spec}: tarball integrity ${got}, pinned ${integrity}`);
    execFileSync('tar', ['-xzf', join(tmp, info.filename), '-C', tmp, `package/${innerPath}`]);
    const file = join(tmp, 'package', innerPath);
    const bytes = checkedFile(file, want);
    if (!bytes) throw new Error(`sea: ${spec}: ${innerPath} does not have the pinned sha256 ${want}`);
    renameSync(file, cached);
    return { path: cached, bytes };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
