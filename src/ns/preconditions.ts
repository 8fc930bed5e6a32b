// What the engine needs from the system, checked up front with errors that say what is wrong.
import * as fs from 'node:fs';
import { CniError, ErrorCode } from '../cni/errors';
import { nsIoctlRaw, NS_GET_USERNS, pidfdOpen } from './syscalls';
import { SysError } from '../sys/libc';
import { EINVAL, ENOSYS, ENOTTY } from '../sys/errno';

/** Overridable for tests only (point them at fake files/dirs to provoke each error). */
export const nsEnvironment = {
  maxUserNamespacesPath: '/proc/sys/user/max_user_namespaces',
  helperDirs: ['/usr/bin', '/bin', '/usr/sbin', '/sbin'],
};

export interface HelperBinaries {
  nsenter: string;
  unshare: string;
  sleep: string;
  head: string;
}

let helperCache: { key: string; bins: HelperBinaries } | undefined;
let kernelChecked = false;

function fail(msg: string, cause?: unknown): CniError {
  return new CniError(ErrorCode.NamespaceFailure, msg, cause === undefined ? {} : { cause });
}

function findBinary(name: string, dirs: string[]): string | undefined {
  for (const d of dirs) {
    const p = `${d}/${name}`;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function helperBinaries(): HelperBinaries {
  const dirs = nsEnvironment.helperDirs;
  const key = dirs.join(':');
  if (helperCache?.key === key) return helperCache.bins;
  const found: Partial<HelperBinaries> = {};
  for (const [name, pkg] of [
    ['nsenter', 'util-linux'],
    ['unshare', 'util-linux'],
    ['sleep', 'coreutils'],
    ['head', 'coreutils'],
  ] as const) {
    const p = findBinary(name, dirs);
    if (!p) throw fail(`helper binary ${name} not found in ${key} (install ${pkg})`);
    found[name] = p;
  }
  helperCache = { key, bins: found as HelperBinaries };
  return helperCache.bins;
}

export function checkUserNamespacesEnabled(): void {
  let text: string;
  try {
    text = fs.readFileSync(nsEnvironment.maxUserNamespacesPath, 'utf8').trim();
  } catch (e) {
    throw fail(`kernel has no user namespaces (${nsEnvironment.maxUserNamespacesPath} unreadable: ${(e as Error).message})`, e);
  }
  if (text === '0') {
    throw fail(`user namespaces are disabled: user.max_user_namespaces = 0 (${nsEnvironment.maxUserNamespacesPath}); set it above 0`);
  }
}

/** pidfd_open and NS_GET_USERNS: probed once per process. */
export function checkKernelFeatures(): void {
  if (kernelChecked) return;
  try {
    fs.closeSync(pidfdOpen(process.pid));
  } catch (e) {
    if (e instanceof SysError && e.errno === ENOSYS) throw fail('kernel lacks pidfd support (pidfd_open: ENOSYS; Linux >= 5.3 needed)', e);
    throw fail(`pidfd_open on self failed: ${(e as Error).message}`, e);
  }
  const fd = fs.openSync('/proc/self/ns/net', 'r');
  try {
    const rc = nsIoctlRaw(fd, NS_GET_USERNS);
    if (rc === -ENOTTY || rc === -EINVAL) throw fail('kernel lacks the NS_GET_USERNS ioctl (Linux >= 4.9 needed)');
    if (rc >= 0) fs.closeSync(rc);
  } finally {
    fs.closeSync(fd);
  }
  kernelChecked = true;
}

/** All preconditions; returns the helper binaries' paths (when asked to check them). */
export function checkPreconditions(needBinaries = true): HelperBinaries {
  checkUserNamespacesEnabled();
  const bins = needBinaries ? helperBinaries() : ({} as HelperBinaries);
  checkKernelFeatures();
  return bins;
}
