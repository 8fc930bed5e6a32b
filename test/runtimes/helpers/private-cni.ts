// ctr 1.6 has no flags for the CNI config and plugin dirs: it loads the first conflist in
// /etc/cni/net.d and runs plugins from /opt/cni/bin. Rather than writing there, ctr runs in a
// private mount namespace where an overlay puts our conflist at /etc/cni/net.d (the host's
// /etc is the lower layer, untouched) and a bind mount puts our bin dir at /opt/cni/bin.
import { copyFileSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_BIN, PLUGIN } from '../../helpers/plugin';

export interface PrivateCni {
  /** argv prefix: run the rest of the command inside the private view. */
  wrap(cmd: string[]): string[];
}

export function privateCni(work: string, conflist: object): PrivateCni {
  const etcUpper = join(work, 'etc-upper');
  const etcWork = join(work, 'etc-work');
  const opt = join(work, 'opt-view');
  const netd = join(etcUpper, 'cni', 'net.d');
  const bin = join(opt, 'cni', 'bin');
  for (const d of [netd, etcWork, bin]) mkdirSync(d, { recursive: true });
  writeFileSync(join(netd, '10-userns.conflist'), JSON.stringify(conflist, null, 2));
  copyFileSync(PLUGIN, join(bin, 'userns-netns')); // outside dist/: no package.json above it
  for (const p of readdirSync(CNI_BIN)) symlinkSync(join(CNI_BIN, p), join(bin, p));
  const script = ['set -e', `mount -t overlay overlay -o lowerdir=/etc,upperdir=${etcUpper},workdir=${etcWork} /etc`, `mount --bind ${opt} /opt`, 'exec "$@"'].join('\n');
  return { wrap: (cmd) => ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', ...cmd] };
}
