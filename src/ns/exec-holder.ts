// The 'exec' engine (every architecture; the only one on arm64): the user namespace is held by a
// clone(CLONE_NEWUSER|CLONE_PIDFD) child running libc's sleep(); once its maps are written, the
// netns is made by `nsenter --user=/proc/self/fd/3 --setuid 0 --setgid 0 -- unshare --net --
// sleep N` (fd 3 = our fd of that user namespace), posix_spawn'ed: uid 0 inside it, so the
// netns it unshares is owned by it. Both expire by themselves if we are killed.
import { closeSync, readSync, readlinkSync } from 'node:fs';
import { performance } from '../sys/clock';
import { CniError, ErrorCode } from '../cni/errors';
import { type Holder, type NamespaceEngine, killAndReap } from './holder';
import type { HelperBinaries } from './preconditions';
import { CLONE_NEWUSER, cloneSleeper, closeFd, pidfdExitInfo, pidfdOpen, pipe, spawn } from './syscalls';

function fail(msg: string): CniError {
  return new CniError(ErrorCode.NamespaceFailure, msg);
}

const sab = new Int32Array(new SharedArrayBuffer(4));
function pause(ms: number): void {
  Atomics.wait(sab, 0, 0, ms);
}

/** What the helper wrote to stderr so far (its reason for failing), at most ~4 KiB. */
function readAvailable(fd: number): string {
  const buf = Buffer.alloc(4096);
  let out = '';
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      out += buf.toString('utf8', 0, n);
      if (out.length > 4096) break;
    }
  } catch {
    /* EAGAIN or closed */
  }
  return out.trim();
}

export function execEngine(opts: { holderSeconds: number; timeoutMs: number; bins: HelperBinaries }): NamespaceEngine {
  const { bins, holderSeconds, timeoutMs } = opts;
  let userHolder: Holder | undefined;
  let netHelper: Holder | undefined;
  let errRead = -1;
  return {
    name: 'exec',
    startUserns() {
      userHolder = { ...cloneSleeper(CLONE_NEWUSER, holderSeconds), what: 'userns holder' };
      return userHolder;
    },
    startNetns(_userns, usernsFd) {
      const [r, w] = pipe();
      errRead = r;
      let pid: number;
      try {
        pid = spawn(
          bins.nsenter,
          ['nsenter', '--user=/proc/self/fd/3', '--setuid', '0', '--setgid', '0', '--', bins.unshare, '--net', '--', bins.sleep, String(holderSeconds)],
          ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL=C'],
          usernsFd,
          w,
        );
      } finally {
        closeFd(w);
      }
      netHelper = { pid, pidfd: pidfdOpen(pid), what: 'netns helper' };
      // Done when the helper's netns is no longer ours: unshare(CLONE_NEWNET) has returned.
      const hostNet = readlinkSync('/proc/self/ns/net');
      const deadline = performance.now() + timeoutMs;
      for (let i = 0; ; i++) {
        let link: string | undefined;
        try {
          link = readlinkSync(`/proc/${pid}/ns/net`);
        } catch {
          link = undefined;
        }
        if (link !== undefined && link !== hostNet) return netHelper;
        const exit = pidfdExitInfo(netHelper.pidfd);
        if (exit) {
          killAndReap(netHelper);
          const msg = readAvailable(errRead);
          throw fail(`netns helper (${bins.nsenter} ... ${bins.unshare} --net) exited (code ${exit.code}, status ${exit.status}) before creating the netns${msg ? `: ${msg}` : ''}`);
        }
        if (performance.now() > deadline) throw fail(`netns helper ${pid} did not create a netns within ${timeoutMs} ms`);
        if (i > 20) pause(0.1);
      }
    },
    end() {
      killAndReap(netHelper);
      killAndReap(userHolder);
      if (errRead >= 0) {
        try {
          closeSync(errRead);
        } catch {
          /* ignore */
        }
        errRead = -1;
      }
    },
  };
}
