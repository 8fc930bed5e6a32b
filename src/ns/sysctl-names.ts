// sysctl names and values as the config gives them, checked without touching the kernel (the
// config loader uses this on every call, before any native code is loaded).
import { CniError, ErrorCode, show } from '../cni/errors';

export interface SysctlSetting {
  /** sysctl(8) notation: dots between components, '/' for a dot inside one (eth0/100). */
  key: string;
  value: string;
}

/** The key of the default this module knows how to compute. */
export const PING_GROUP_RANGE = 'net.ipv4.ping_group_range';

const KEY = /^net(\.[A-Za-z0-9_/-]+)+$/;
const COMPONENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
const VALUE = /^[\x20-\x7e\t]{0,4096}$/;

function configError(msg: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, msg);
}

/** /proc/sys path of a net.* key, or a config error naming it. Never leaves /proc/sys/net. */
export function sysctlFile(key: string): string {
  const parts = KEY.test(key) ? key.split('.').map((c) => c.replace(/\//g, '.')) : [];
  if (parts.length < 2 || !parts.every((c) => COMPONENT.test(c) && !c.includes('..'))) {
    throw configError(`sysctls: key ${show(key)} must be a net.* sysctl name (components of letters, digits, "_", "-"; "/" for a dot inside one)`);
  }
  return `/proc/sys/${parts.join('/')}`;
}

/** A value as the kernel reads it: a number, or printable text on one line. */
export function sysctlValue(key: string, value: unknown): string {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== 'string' || !VALUE.test(text)) {
    throw configError(`sysctls[${show(key)}]: value ${show(value)} must be an integer or printable text on one line (at most 4096 characters)`);
  }
  // Checked here too (not only where it is translated to host gids) so that a bad one fails
  // at config time, before anything exists.
  if (key === PING_GROUP_RANGE && !/^\s*\d+\s+\d+\s*$/.test(text)) {
    throw configError(`sysctls[${show(key)}]: value ${show(value)} must be two gids, "LOW HIGH"`);
  }
  return text;
}
