// Create a user namespace, write its maps, then create a netns owned by it from a process that
// is root inside it; verify both from held fds; journal; pin both; end the holder processes.
// The order is one function (createOnce below); how the namespaces are held is the engine's:
//  - 'clone' (default on x86-64, clone-holder.ts): one exec-free child running a ~140-byte
//    routine (clone-holder.x86_64.S) that unshares its netns once told its maps are written.
//  - 'exec' (everywhere else, e.g. arm64; exec-holder.ts): a clone(sleep) userns holder and a
//    posix_spawn'ed `nsenter --user ... --setuid 0 --setgid 0 -- unshare --net -- sleep`.
// All holders expire by themselves if we are killed; normally we SIGKILL and reap them via pidfd.
import { closeSync, openSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { SysError } from '../sys/libc';
import { EINVAL, ENOSPC } from '../sys/errno';
import { type IdMappings, validateMappings } from './mappings';
import { checkPinPath, ensurePinDir, reservePin, bindPin, releaseReservation, closeReservation, type Reservation } from './pins';
import { checkPreconditions } from './preconditions';
import { cloneEngine, cloneEngineSupported } from './clone-holder';
import { execEngine } from './exec-holder';
import type { EngineName, Holder, NamespaceEngine } from './holder';
import { verifyNetns, verifyUserns } from './verify';
import { writeMaps } from './write-maps';
import { bringLoopbackUp } from './loopback';

export { hostNetnsInode, hostUsernsInode } from './host-namespaces';

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
   * How the namespaces are held while they are made. 'clone': one exec-free clone(CLONE_NEWUSER)
   * holder that unshares its netns once its maps are written (x86-64). 'exec': userns holder
   * clone(sleep) plus `nsenter --user --setuid 0 --setgid 0 -- unshare --net -- sleep`.
   * 'auto' (default): clone where supported, else exec.
   */
  engine?: 'auto' | EngineName;
}

export interface CreatedNamespaces {
  netnsPin: string;
  usernsPin: string;
  netnsInode: number;
  usernsInode: number;
  /** The engine that made them (for the log: which one ran, on this machine). */
  engine: EngineName;
}

export const DEFAULT_USERNS_DIR = '/run/userns';
/** Helpers exit by themselves after this long even if nobody kills them. */
export const HOLDER_SECONDS = 10;

/** The userns pin path that goes with a netns pin: /run/userns/<same name>. */
export function defaultUsernsPin(netnsPin: string, dir = DEFAULT_USERNS_DIR): string {
  return join(dir, basename(netnsPin));
}

function fail(msg: string, cause?: unknown): CniError {
  return new CniError(ErrorCode.NamespaceFailure, msg, cause === undefined ? {} : { cause });
}

function closeQuietly(fd: number): void {
  if (fd >= 0)
    try {
      closeSync(fd);
    } catch {
      /* ignore */
    }
}

/**
 * Create a user namespace with the given mappings and a network namespace owned by it, pin
 * both, and return their inodes. On any failure everything is rolled back: no pin file, no
 * mount, no helper process.
 */
export function createPinnedNamespaces(opts: CreateOptions): Promise<CreatedNamespaces> {
  // One creation at a time per process: the clone holder's stack and shared page are reused.
  const run = queue.then(() => createOnce(opts));
  queue = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
}
let queue: Promise<void> = Promise.resolve();

/** The options checked (nothing created yet) and the engine that will run. */
function plan(opts: CreateOptions): { netnsPin: string; usernsPin: string; engine: NamespaceEngine } {
  if (opts === null || typeof opts !== 'object') throw fail('createPinnedNamespaces: options object required');
  validateMappings(opts.mappings);
  const netnsPin = checkPinPath(opts.netnsPin, 'netnsPin');
  const usernsPin = checkPinPath(opts.usernsPin, 'usernsPin');
  if (dirname(netnsPin) === dirname(usernsPin)) {
    throw fail(`usernsPin ${usernsPin} must be in its own directory, not in the netns pin directory ${dirname(netnsPin)}`);
  }
  const wanted = opts.engine ?? 'auto';
  if (wanted === 'clone' && !cloneEngineSupported()) throw fail(`engine 'clone' is not supported on ${process.arch}`);
  const name: EngineName = wanted === 'exec' || !cloneEngineSupported() ? 'exec' : 'clone';
  // The exec engine needs nsenter/unshare/sleep; the clone engine needs no binary at all.
  const bins = checkPreconditions(name === 'exec');
  const timing = { timeoutMs: opts.timeoutMs ?? 5000, holderSeconds: Math.max(1, Math.ceil(opts.holderSeconds ?? HOLDER_SECONDS)) };
  return { netnsPin, usernsPin, engine: name === 'clone' ? cloneEngine(timing) : execEngine({ ...timing, bins }) };
}

function startUsernsHolder(engine: NamespaceEngine): Holder {
  try {
    return engine.startUserns();
  } catch (e) {
    const no = e instanceof SysError ? e.errno : 0;
    if (no === EINVAL) throw fail('clone(CLONE_NEWUSER|CLONE_PIDFD) failed with EINVAL: kernel lacks CLONE_PIDFD (Linux >= 5.2) or user namespaces', e);
    if (no === ENOSPC) throw fail('cannot create a user namespace: limit user.max_user_namespaces reached (ENOSPC)', e);
    if (e instanceof CniError) throw e;
    throw fail(`cannot create a user namespace: ${(e as Error).message}`, e);
  }
}

async function createOnce(opts: CreateOptions): Promise<CreatedNamespaces> {
  const { netnsPin, usernsPin, engine } = plan(opts);
  const reservations: Reservation[] = [];
  let userFd = -1;
  let netFd = -1;
  let ok = false;
  try {
    // 1. The pin directories (shared mounts), before anything exists that would need undoing.
    ensurePinDir(dirname(netnsPin));
    ensurePinDir(dirname(usernsPin));
    // 2. The user namespace holder, checked from the fd we hold.
    const userHolder = startUsernsHolder(engine);
    userFd = openSync(`/proc/${userHolder.pid}/ns/user`, 'r');
    await opts.testHooks?.afterUsernsHolderOpened?.(userHolder.pid);
    const usernsInode = verifyUserns(userFd, userHolder);
    // 3. Its maps, as real root. 4. Then the netns, made by uid 0 inside it.
    writeMaps(userHolder.pid, opts.mappings);
    const netHolder = engine.startNetns(userHolder, userFd);
    netFd = openSync(`/proc/${netHolder.pid}/ns/net`, 'r');
    await opts.testHooks?.afterHolderNsOpened?.(netHolder.pid);
    // 5. Verified from the held fds, both holders still alive.
    const netnsInode = verifyNetns(netFd, usernsInode, netHolder, userHolder);
    if (opts.loopbackUp) bringLoopbackUp(netFd);
    // 6. The caller journals the inodes (and the pin token) before any pin file exists: the fds
    // we hold keep both namespaces alive meanwhile. 7. Pin from the held fds: a pin path taken by
    // now fails here (101), with the holders still ours to end.
    await opts.beforePin?.({ netnsInode, usernsInode });
    const hook = opts.testHooks?.afterReservationCreated;
    const netRes = reservePin(netnsPin, 'netns pin', opts.pinToken, hook && (() => hook('net')));
    reservations.push(netRes);
    const userRes = reservePin(usernsPin, 'userns pin', opts.pinToken, hook && (() => hook('user')));
    reservations.push(userRes);
    bindPin(netRes, netFd, netnsInode);
    bindPin(userRes, userFd, usernsInode);
    ok = true;
    return { netnsPin, usernsPin, netnsInode, usernsInode, engine: engine.name };
  } catch (e) {
    if (e instanceof CniError) throw e;
    throw fail(`cannot create namespaces for ${netnsPin}: ${(e as Error).message}`, e);
  } finally {
    engine.end();
    closeQuietly(netFd);
    closeQuietly(userFd);
    for (const res of reservations) {
      if (ok) closeReservation(res);
      else releaseReservation(res);
    }
  }
}
