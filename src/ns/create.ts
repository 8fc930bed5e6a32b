// Create a user namespace, write its maps, then create a netns owned by it from a process that
// is root inside it; verify both from held fds; pin both; kill and reap the helpers.
//
// Processes involved (none runs JS), by engine:
//  - 'clone' (default on x86_64): ONE child, glibc clone(CLONE_NEWUSER|CLONE_VM|CLONE_PIDFD)
//    running a ~140-byte machine-code routine (syscalls.ts): closes its fds, PR_SET_PDEATHSIG,
//    waits on a futex until we wrote its maps, unshare(CLONE_NEWNET), reports, sleeps. No exec.
//  - 'exec' (fallback): userns holder = clone(CLONE_NEWUSER|CLONE_PIDFD) running libc
//    sleep(HOLDER_SECONDS); netns helper = posix_spawn of `nsenter --user=/proc/self/fd/3
//    --setuid 0 --setgid 0 -- unshare --net -- sleep HOLDER_SECONDS` (fd 3 = our userns fd).
// All expire by themselves if we are killed; normally we SIGKILL and reap them via pidfd.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { SysError, errnoName } from '../sys/libc';
import { type IdMappings, validateMappings, formatMap } from './mappings';
import { checkPinPath, ensurePinDir, reservePin, bindPin, releaseReservation, closeReservation, type Reservation } from './pins';
import { checkPreconditions } from './preconditions';
import { performance } from '../sys/clock';
import {
  cloneSleeper, cloneFastHolder, fastHolderGo, fastHolderResult, fastHolderSupported, CLONE_NEWUSER, CLONE_NEWNET, NS_GET_NSTYPE, NS_GET_USERNS, NS_GET_PARENT,
  nsIoctl, nsIoctlRaw, pidfdOpen, pidfdAlive, pidfdKill, pidfdReap, pidfdExitInfo, pipe, spawn,
  socketIn, linkUp, closeFd,
} from './syscalls';

export interface CreateOptions {
  mappings: IdMappings;
  /** absolute path, must not exist; parent dir created if missing and made a shared mount */
  netnsPin: string;
  /** absolute path in its own dir (default dir /run/userns), same rules */
  usernsPin: string;
  /** bring `lo` up inside the new netns */
  loopbackUp?: boolean;
  testHooks?: {
    /** after the netns helper's ns files were opened, before its liveness check */
    afterHolderNsOpened?: (holderPid: number) => void | Promise<void>;
    /** after the userns holder's ns file was opened, before its maps are written */
    afterUsernsHolderOpened?: (holderPid: number) => void | Promise<void>;
    /** after a pin's temporary reservation file was created, before the token is written into it */
    afterReservationCreated?: (type: 'net' | 'user') => void;
  };
  /**
   * Hex token written into the pin files as they are reserved (see reservePin): journal it
   * before the call and a later cleanup can prove the pins are ours.
   */
  pinToken?: string;
  /**
   * Called with both namespaces' inodes after they were verified and before any pin file is
   * reserved or mounted: the caller's last chance to journal what will be at the pin paths.
   */
  beforePin?: (ids: { netnsInode: number; usernsInode: number }) => void | Promise<void>;
  /** how long a helper may take to create the netns (default 5000 ms) */
  timeoutMs?: number;
  /** helpers exit by themselves after this many seconds if never killed (default HOLDER_SECONDS) */
  holderSeconds?: number;
  /**
   * How the netns is made. 'clone': one exec-free clone(CLONE_NEWUSER) holder that unshares its
   * netns once its maps are written (x86_64). 'exec': userns holder clone(sleep) plus
   * `nsenter --user --setuid 0 --setgid 0 -- unshare --net -- sleep`. 'auto' (default): clone
   * where supported, else exec.
   */
  engine?: 'auto' | 'clone' | 'exec';
}

export interface CreatedNamespaces { netnsPin: string; usernsPin: string; netnsInode: number; usernsInode: number }

export const DEFAULT_USERNS_DIR = '/run/userns';
/** Helpers exit by themselves after this long even if nobody kills them. */
export const HOLDER_SECONDS = 10;

/** The userns pin path that goes with a netns pin: /run/userns/<same name>. */
export function defaultUsernsPin(netnsPin: string, dir = DEFAULT_USERNS_DIR): string {
  return path.join(dir, path.basename(netnsPin));
}

let hostUserIno: number | undefined;
let hostNetIno: number | undefined;
/** Inode of the user namespace this process runs in (the host's). */
export function hostUsernsInode(): number {
  hostUserIno ??= fs.statSync('/proc/self/ns/user').ino;
  return hostUserIno;
}
export function hostNetnsInode(): number {
  hostNetIno ??= fs.statSync('/proc/self/ns/net').ino;
  return hostNetIno;
}

function fail(msg: string, cause?: unknown): CniError {
  return new CniError(ErrorCode.NamespaceFailure, msg, cause === undefined ? {} : { cause });
}

interface Child { pid: number; pidfd: number; what: string }

function killAndReap(c: Child | undefined): void {
  if (!c || c.pidfd < 0) return;
  pidfdKill(c.pidfd);
  pidfdReap(c.pidfd);
  fs.closeSync(c.pidfd);
  c.pidfd = -1;
}

function closeQuietly(fd: number | undefined): void {
  if (fd !== undefined && fd >= 0) try { fs.closeSync(fd); } catch { /* ignore */ }
}

const sab = new Int32Array(new SharedArrayBuffer(4));
function pause(ms: number): void {
  Atomics.wait(sab, 0, 0, ms);
}

function readAvailable(fd: number): string {
  const buf = Buffer.alloc(4096);
  let out = '';
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      out += buf.toString('utf8', 0, n);
      if (out.length > 4096) break;
    }
  } catch { /* EAGAIN or closed */ }
  return out.trim();
}

function writeMap(pid: number, file: 'uid_map' | 'gid_map', text: string): void {
  const p = `/proc/${pid}/${file}`;
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_WRONLY);
  } catch (e) {
    throw fail(`cannot open ${p}: ${(e as Error).message}`, e);
  }
  try {
    const buf = Buffer.from(text);
    const n = fs.writeSync(fd, buf, 0, buf.length);
    if (n !== buf.length) throw fail(`short write to ${p}: ${n} of ${buf.length} bytes`);
  } catch (e) {
    if (e instanceof CniError) throw e;
    throw fail(`kernel refused ${file} ${JSON.stringify(text.trim())} for user namespace holder ${pid}: ${(e as Error).message}`, e);
  } finally {
    fs.closeSync(fd);
  }
}

function inodeOf(fd: number): number {
  return fs.fstatSync(fd).ino;
}

/**
 * Create a user namespace with the given mappings and a network namespace owned by it, pin
 * both, and return their inodes. On any failure everything is rolled back: no pin file, no
 * mount, no helper process.
 */
export function createPinnedNamespaces(opts: CreateOptions): Promise<CreatedNamespaces> {
  // One creation at a time per process: the clone holder's stack and shared page are reused.
  const run = queue.then(() => createOnce(opts));
  queue = run.then(() => undefined, () => undefined);
  return run;
}
let queue: Promise<void> = Promise.resolve();

async function createOnce(opts: CreateOptions): Promise<CreatedNamespaces> {
  if (opts === null || typeof opts !== 'object') throw fail('createPinnedNamespaces: options object required');
  validateMappings(opts.mappings);
  const netnsPin = checkPinPath(opts.netnsPin, 'netnsPin');
  const usernsPin = checkPinPath(opts.usernsPin, 'usernsPin');
  const netDir = path.dirname(netnsPin);
  const userDir = path.dirname(usernsPin);
  if (netDir === userDir) {
    throw fail(`usernsPin ${usernsPin} must be in its own directory, not in the netns pin directory ${netDir}`);
  }
  const engine = opts.engine === 'exec' || (opts.engine !== 'clone' && !fastHolderSupported()) ? 'exec' : 'clone';
  if (engine === 'clone' && !fastHolderSupported()) throw fail(`engine 'clone' is not supported on ${process.arch}`);
  // The exec engine needs nsenter/unshare/sleep; the clone engine needs no binary at all.
  const bins = checkPreconditions(engine === 'exec');
  const timeoutMs = opts.timeoutMs ?? 5000;
  const holderSeconds = Math.max(1, Math.ceil(opts.holderSeconds ?? HOLDER_SECONDS));
  const uidText = formatMap(opts.mappings.uidMappings);
  const gidText = formatMap(opts.mappings.gidMappings);

  let netRes: Reservation | undefined;
  let userRes: Reservation | undefined;
  let userHolder: Child | undefined;
  let netHelper: Child | undefined;
  let userFd = -1;
  let netFd = -1;
  let errRead = -1;
  let ok = false;
  try {
    ensurePinDir(netDir);
    ensurePinDir(userDir);
    // 1. The user namespace, held by a clone(sleep) child.
    try {
      const h = engine === 'clone' ? cloneFastHolder(holderSeconds) : cloneSleeper(CLONE_NEWUSER, holderSeconds);
      userHolder = { ...h, what: 'userns holder' };
    } catch (e) {
      const no = e instanceof SysError ? e.errno : 0;
      if (no === 22) throw fail('clone(CLONE_NEWUSER|CLONE_PIDFD) failed with EINVAL: kernel lacks CLONE_PIDFD (Linux >= 5.2) or user namespaces', e);
      if (no === 28) throw fail('cannot create a user namespace: limit user.max_user_namespaces reached (ENOSPC)', e);
      throw fail(`cannot create a user namespace: ${(e as Error).message}`, e);
    }
    userFd = fs.openSync(`/proc/${userHolder.pid}/ns/user`, 'r');
    await opts.testHooks?.afterUsernsHolderOpened?.(userHolder.pid);
    if (nsIoctl(userFd, NS_GET_NSTYPE) !== CLONE_NEWUSER) throw fail('userns holder: opened namespace is not a user namespace');
    const usernsInode = inodeOf(userFd);
    if (usernsInode === hostUsernsInode()) throw fail(`userns holder ${userHolder.pid} is in the host user namespace`);
    const parentFd = nsIoctl(userFd, NS_GET_PARENT);
    const parentIno = inodeOf(parentFd);
    fs.closeSync(parentFd);
    if (parentIno !== hostUsernsInode()) throw fail(`new user namespace's parent is ${parentIno}, not the host's ${hostUsernsInode()}`);
    if (!pidfdAlive(userHolder.pidfd)) throw fail(`userns holder ${userHolder.pid} died before its maps were written`);

    // 2. Maps, one write each, as real root; setgroups stays "allow".
    writeMap(userHolder.pid, 'uid_map', uidText);
    writeMap(userHolder.pid, 'gid_map', gidText);

    // 3. The netns, created by a process that is uid 0 inside the user namespace.
    let pid: number;
    if (engine === 'clone') {
      // The holder itself unshares its netns once told its maps are in place.
      fastHolderGo();
      netHelper = userHolder;
      pid = userHolder.pid;
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const res = fastHolderResult(2);
        if (res === 1) break;
        if (res < 0) throw fail(`unshare(CLONE_NEWNET) inside the new user namespace failed: ${errnoName(-res)}`);
        if (!pidfdAlive(userHolder.pidfd)) throw fail(`namespace holder ${pid} died before creating the netns`);
        if (performance.now() > deadline) throw fail(`namespace holder ${pid} did not create a netns within ${timeoutMs} ms`);
      }
    } else {
      const [r, w] = pipe();
      errRead = r;
      try {
        pid = spawn(bins.nsenter, [
          'nsenter', '--user=/proc/self/fd/3', '--setuid', '0', '--setgid', '0', '--',
          bins.unshare, '--net', '--', bins.sleep, String(holderSeconds),
        ], ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL=C'], userFd, w);
      } finally {
        closeFd(w);
      }
      netHelper = { pid, pidfd: pidfdOpen(pid), what: 'netns helper' };
      const hostNet = fs.readlinkSync('/proc/self/ns/net');
      const deadline = performance.now() + timeoutMs;
      for (let i = 0; ; i++) {
        let link: string | undefined;
        try { link = fs.readlinkSync(`/proc/${pid}/ns/net`); } catch { link = undefined; }
        if (link !== undefined && link !== hostNet) break;
        const exit = pidfdExitInfo(netHelper.pidfd);
        if (exit) {
          killAndReap(netHelper);
          const msg = readAvailable(errRead);
          throw fail(`netns helper (${bins.nsenter} ... ${bins.unshare} --net) exited (code ${exit.code}, status ${exit.status}) before creating the netns${msg ? `: ${msg}` : ''}`);
        }
        if (performance.now() > deadline) throw fail(`netns helper ${pid} did not create a netns within ${timeoutMs} ms`);
        if (i > 20) pause(0.1);
      }
    }
    const netLink = `/proc/${pid}/ns/net`;
    netFd = fs.openSync(netLink, 'r');
    await opts.testHooks?.afterHolderNsOpened?.(pid);

    // 4. Verify identity from the held fds, then that the helpers are still alive.
    const nsType = nsIoctlRaw(netFd, NS_GET_NSTYPE);
    if (nsType !== CLONE_NEWNET) throw fail(`netns helper ${pid}: opened namespace has type 0x${nsType.toString(16)}, not a network namespace`);
    const netnsInode = inodeOf(netFd);
    if (netnsInode === hostNetnsInode()) throw fail(`netns helper ${pid}: namespace is the host's netns`);
    const ownerFd = nsIoctl(netFd, NS_GET_USERNS);
    const ownerIno = inodeOf(ownerFd);
    fs.closeSync(ownerFd);
    if (ownerIno !== usernsInode) throw fail(`netns ${netnsInode} is owned by user namespace ${ownerIno}, not ours (${usernsInode})`);
    if (!pidfdAlive(netHelper.pidfd)) throw fail(`netns helper ${pid} died after its namespace was opened; not pinning`);
    if (!pidfdAlive(userHolder.pidfd)) throw fail(`userns holder ${userHolder.pid} died during creation; not pinning`);

    if (opts.loopbackUp) {
      const hostNetFd = fs.openSync('/proc/thread-self/ns/net', 'r');
      try {
        const sock = socketIn(netFd, hostNetFd);
        try { linkUp(sock, 'lo'); } finally { closeFd(sock); }
      } finally {
        fs.closeSync(hostNetFd);
      }
    }

    // 5. Pin from the held fds.
    // The caller journals the inodes (and the pin token) before any pin file exists: the fds we
    // hold keep both namespaces alive meanwhile. A pin path taken by now fails here (101), with
    // the holders still ours to end.
    await opts.beforePin?.({ netnsInode, usernsInode });
    const hook = opts.testHooks?.afterReservationCreated;
    netRes = reservePin(netnsPin, 'netns pin', opts.pinToken, hook && (() => hook('net')));
    userRes = reservePin(usernsPin, 'userns pin', opts.pinToken, hook && (() => hook('user')));
    bindPin(netRes, netFd, netnsInode);
    bindPin(userRes, userFd, usernsInode);
    ok = true;
    return { netnsPin, usernsPin, netnsInode, usernsInode };
  } catch (e) {
    if (e instanceof CniError) throw e;
    throw fail(`cannot create namespaces for ${netnsPin}: ${(e as Error).message}`, e);
  } finally {
    killAndReap(netHelper);
    killAndReap(userHolder);
    closeQuietly(netFd);
    closeQuietly(userFd);
    closeQuietly(errRead);
    for (const res of [netRes, userRes]) {
      if (!res) continue;
      if (ok) closeReservation(res);
      else releaseReservation(res);
    }
  }
}
