// A minimal busybox root filesystem from Debian's busybox-static (/bin/busybox), for runc
// bundles and for the layer of a locally built image. No network access, no registry.
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from '../../helpers/host';

export const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'ip', 'ping', 'cat', 'grep', 'ls', 'sleep', 'id', 'mount', 'echo', 'test', '['];

export function busyboxMissing(): string | undefined {
  if (!existsSync(BUSYBOX)) return `${BUSYBOX} missing (apt-get install busybox-static)`;
  // A dynamically linked busybox would need the host's libc inside the rootfs.
  if (!/statically linked|static-pie/.test(sh('file', ['-L', BUSYBOX], { allowFail: true }) || 'statically linked')) return `${BUSYBOX} is not static`;
  return undefined;
}

/** Builds rootfs/ with /bin/busybox and applet links; chown to `owner` (the mapped root) if given. */
export function makeRootfs(dir: string, owner?: number): string {
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'x']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  chmodSync(join(dir, 'tmp'), 0o1777);
  if (owner !== undefined) sh('chown', ['-R', '-h', `${owner}:${owner}`, dir]);
  return dir;
}
