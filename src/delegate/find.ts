// Locating a delegate binary in CNI_PATH, as Go's invoke.FindInPath does, with two
// deliberate tightenings: the file must be executable (not merely regular), and empty
// CNI_PATH entries are skipped (Go joins them to "", i.e. the runtime's cwd).
import { statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { CniError, ErrorCode, show } from '../cni/errors';

/**
 * Absolute path of the executable `type` in the first CNI_PATH directory that has it.
 *
 * A missing plugin is code 7 (invalid network config), like a bad `type`: the spec has no
 * "plugin not found" code, the config names a plugin this node cannot run, and the fix is
 * the config or the installation, never a retry (11) or our internals (999).
 */
export function findPlugin(type: string, cniPath: string): string {
  if (typeof type !== 'string' || type === '' || type === '.' || type === '..' || /[/\0]/.test(type)) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `invalid plugin type ${show(type)}: must be a file name without "/"`);
  }
  const dirs = cniPath.split(':').filter((d) => d !== '');
  for (const dir of dirs) {
    const candidate = resolve(join(dir, type));
    let st: Stats;
    try {
      st = statSync(candidate);
    } catch {
      continue; // ENOENT, EACCES, ENOTDIR: not here, try the next directory
    }
    if (st.isFile() && (st.mode & 0o111) !== 0) return candidate;
  }
  throw new CniError(ErrorCode.InvalidNetworkConfig, `failed to find plugin ${show(type)} in path [${dirs.join(' ')}]`);
}
