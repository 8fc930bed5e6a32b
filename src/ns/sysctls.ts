// net.* sysctls inside a pod's network namespace. A file under /proc/sys/net belongs to the
// netns of the thread that opens it, so this thread joins the pod's netns for the open() calls
// only (setns(CLONE_NEWNET) is per-thread, safe in a multithreaded process) and writes through
// the fds once it is back in its own. No process is started. (libuv opens every fd O_CLOEXEC.)
import * as fs from 'node:fs';
import { CniError, ErrorCode, show } from '../cni/errors';
import type { IdMapRange } from './mappings';
import { openNsPath } from './pins';
import { setns, CLONE_NEWNET } from './syscalls';

export { PING_GROUP_RANGE, sysctlFile, sysctlValue, type SysctlSetting } from './sysctl-names';
import { PING_GROUP_RANGE, sysctlFile, type SysctlSetting } from './sysctl-names';

function configError(msg: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, msg);
}

/**
 * ping_group_range for a pod: the host gids its gid map gives container gid 0 and up (the
 * range containing container gid 0, else the first). Written from the host user namespace,
 * which reads it in host ids; inside the pod it reads as the container range, e.g. "0 65535".
 */
export function pingGroupRangeFor(gidMappings: IdMapRange[]): string | undefined {
  const r = gidMappings.find((m) => m.containerID === 0) ?? gidMappings[0];
  if (!r) return undefined;
  // The kernel's upper bound is GID_T_MAX - 1 (4294967294): (gid_t)-1 means "none".
  const last = Math.min(r.hostID + r.size - 1, 4294967294);
  return `${r.hostID} ${last}`;
}

/**
 * ping_group_range holds gids, which the kernel reads in the writer's user namespace: a pod's
 * value (its own gids, as runc would write it from inside) becomes host gids through the pod's
 * gid map here, and a gid the map does not cover is refused, as the kernel refuses it (EINVAL)
 * inside the pod. "1 0" (nobody may ping) needs no mapping. Other keys pass unchanged.
 */
export function inHostIds(s: SysctlSetting, gidMappings: IdMapRange[] | undefined): SysctlSetting {
  if (s.key !== PING_GROUP_RANGE || gidMappings === undefined) return s;
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(s.value);
  if (!m) throw configError(`sysctls[${show(s.key)}]: value ${show(s.value)} must be two gids, "LOW HIGH"`);
  const [low, high] = [Number(m[1]), Number(m[2])];
  if (high < low) return { key: s.key, value: '1 0' };
  const toHost = (gid: number) => {
    const r = gidMappings.find((x) => gid >= x.containerID && gid < x.containerID + x.size);
    if (!r) throw configError(`sysctls[${show(s.key)}]: gid ${gid} of ${show(s.value)} is not mapped in the pod's user namespace`);
    return r.hostID + (gid - r.containerID);
  };
  return { key: s.key, value: `${toHost(low)} ${toHost(high)}` };
}

/** Opens each file for writing inside the netns behind netFd; always returns to our own. */
function openAllIn(netFd: number, files: string[]): Array<number | Error> {
  const own = fs.openSync('/proc/thread-self/ns/net', fs.constants.O_RDONLY);
  const out: Array<number | Error> = [];
  try {
    setns(netFd, CLONE_NEWNET);
    try {
      for (const f of files) {
        try {
          out.push(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW));
        } catch (e) {
          out.push(e as Error);
        }
      }
    } finally {
      try {
        setns(own, CLONE_NEWNET);
      } catch (e) {
        // Going on would run the rest of this process in the pod's netns.
        process.stderr.write(`fatal: cannot return to own netns: ${(e as Error).message}\n`);
        process.abort();
      }
    }
  } finally {
    fs.closeSync(own);
  }
  return out;
}

/** Sets each sysctl in the netns at `netnsPath`, in order; the first failure names its key. */
export function applySysctls(netnsPath: string, settings: SysctlSetting[]): void {
  if (settings.length === 0) return;
  const files = settings.map((s) => sysctlFile(s.key));
  const netFd = openNsPath(netnsPath);
  if (netFd < 0) throw new CniError(ErrorCode.NamespaceFailure, `sysctls: ${show(netnsPath)} is not a network namespace`);
  let fds: Array<number | Error> = [];
  try {
    fds = openAllIn(netFd, files);
    for (const [i, s] of settings.entries()) {
      const fd = fds[i]!;
      const fail = (e: Error) => new CniError(ErrorCode.NamespaceFailure, `sysctls[${show(s.key)}]: cannot set ${show(s.value)} in ${netnsPath}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, { cause: e });
      if (fd instanceof Error) throw fail(fd);
      try {
        fs.writeSync(fd, s.value);
      } catch (e) {
        throw fail(e as Error);
      }
    }
  } finally {
    for (const fd of fds) if (typeof fd === 'number') fs.closeSync(fd);
    fs.closeSync(netFd);
  }
}
