// Per-attachment advisory lock: ADD, DEL and CHECK of one attachment serialize across
// plugin processes, different attachments do not contend.
//
// flock(2) through koffi, always with LOCK_NB, polled with backoff until a deadline:
// a blocking flock would freeze Node's event loop, and a blocked `.async` call keeps
// process.exit() from returning. flock locks belong to the open file description, so
// they also serialize two holders within one process, die with the process (a SIGKILLed
// plugin never leaves a stale lock), and - since libuv opens with O_CLOEXEC - are not
// inherited by delegates we spawn.
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CniError, ErrorCode, LockTimeoutError } from '../cni/errors';
import { errno, errnoName } from '../sys/libc';
import { LOCK_EX, LOCK_NB, LOCK_UN, flock } from './syscalls';

const { O_RDONLY, O_RDWR, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const EINTR = 4;
const EWOULDBLOCK = 11;

export interface LockOptions {
  /** How long to wait for another holder before giving up with code 11. */
  timeoutMs: number;
  /**
   * For CHECK and DEL: when the lock file cannot be created because the file system is
   * read-only (an existing one is still locked, opened read-only), run without it. No record
   * can be written there, so no ADD can get past its first journal write and there is no
   * record writer to wait for. A reader (CHECK) changes nothing; a teardown (DEL) only repeats
   * idempotent steps another teardown may be taking too - delegates' DEL, unpin by proof - and
   * cannot remove the record anyway. At worst CHECK reports what a concurrent DEL left half-done.
   */
  unlockedIfReadOnly?: boolean;
}

/** Is `err` (or its cause) EROFS? */
export function isReadOnlyFs(err: unknown): boolean {
  const code = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code;
  return code(err) === 'EROFS' || code((err as { cause?: unknown } | undefined)?.cause) === 'EROFS';
}

/** The handle given to `fn` when it runs without a lock (see unlockedIfReadOnly). */
export function unlockedHandle(lockPath: string): LockHandle {
  return { path: lockPath, removeOnRelease: () => {} };
}

export interface LockHandle {
  readonly path: string;
  /**
   * Unlink the lock file at release, while still holding the lock (e.g. after DEL removed
   * the record). Safe because acquirers check that the inode they locked is still the one
   * at the path.
   */
  removeOnRelease(): void;
}

function openLockFile(lockPath: string): number {
  let fd: number;
  try {
    try {
      fd = fs.openSync(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
    } catch (err) {
      // flock needs no write access: on a read-only file system an existing lock file still
      // serialises us with whoever else holds it.
      if ((err as NodeJS.ErrnoException).code !== 'EROFS') throw err;
      try {
        fd = fs.openSync(lockPath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      } catch (err2) {
        throw (err2 as NodeJS.ErrnoException).code === 'ENOENT' ? err : err2;
      }
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') {
      throw new CniError(ErrorCode.StateFailure, `lock file ${lockPath} is a symbolic link; refusing to follow it`, { cause: err });
    }
    throw new CniError(ErrorCode.IoFailure, `cannot open lock file ${lockPath}: ${code ?? String(err)}`, { cause: err });
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new CniError(ErrorCode.StateFailure, `lock file ${lockPath} is not a regular file`);
  }
  return fd;
}

/** Non-blocking attempt. true = locked, false = someone else holds it. */
function tryLock(fd: number, lockPath: string): boolean {
  for (;;) {
    if (flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const e = errno(); // read right after the failing call
    if (e === EWOULDBLOCK) return false;
    if (e === EINTR) continue;
    throw new CniError(ErrorCode.IoFailure, `flock ${lockPath}: ${errnoName(e)}`);
  }
}

/** The lock is ours only if the path still names the inode we locked (see removeOnRelease). */
function stillAtPath(fd: number, lockPath: string): boolean {
  try {
    const a = fs.fstatSync(fd);
    const b = fs.lstatSync(lockPath);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/** Who holds it, from /proc/locks, for the timeout message. Best effort. */
function holderPids(fd: number): number[] {
  try {
    const st = fs.fstatSync(fd);
    const pids: number[] = [];
    for (const line of fs.readFileSync('/proc/locks', 'utf8').split('\n')) {
      // "1: FLOCK  ADVISORY  WRITE 4612 fe:00:2146671 0 EOF" (blocked waiters have "->")
      const m = /^\d+:\s+FLOCK\s+\S+\s+\S+\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
      if (m && Number(m[2]) === st.ino && Number(m[1]) !== process.pid) pids.push(Number(m[1]));
    }
    return pids;
  } catch {
    return [];
  }
}

/** Acquires the lock or throws LockTimeoutError (code 11) at the deadline. The caller owns the returned fd. */
async function acquire(lockPath: string, timeoutMs: number): Promise<number> {
  const start = Date.now();
  const deadline = start + timeoutMs;
  let delay = 1;
  for (;;) {
    const fd = openLockFile(lockPath);
    let locked = false;
    try {
      for (;;) {
        if (tryLock(fd, lockPath)) {
          locked = true;
          break;
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new LockTimeoutError({ path: lockPath, timeoutMs, holders: holderPids(fd) }, 'another operation on the same attachment is still running');
        }
        // Jittered exponential backoff, 1 ms up to 50 ms: quick hand-over for short critical
        // sections, little CPU when a holder runs long.
        await sleep(Math.min(left, delay * (0.5 + Math.random())));
        delay = Math.min(delay * 2, 50);
      }
      if (stillAtPath(fd, lockPath)) return fd;
      // The previous holder unlinked the file as we waited: we hold a lock nobody else
      // will look at. Start over on whatever is at the path now.
    } finally {
      if (!locked) fs.closeSync(fd);
    }
    flock(fd, LOCK_UN);
    fs.closeSync(fd);
  }
}

/**
 * Runs `fn` while holding an exclusive lock on `lockPath` (created 0600, never through a
 * symlink). Released when `fn` settles, whether it returns or throws.
 */
export async function withLock<T>(lockPath: string, opts: LockOptions, fn: (lock: LockHandle) => Promise<T> | T): Promise<T> {
  let fd: number;
  try {
    fd = await acquire(lockPath, opts.timeoutMs);
  } catch (err) {
    if (opts.unlockedIfReadOnly && isReadOnlyFs(err)) return await fn(unlockedHandle(lockPath));
    throw err;
  }
  let remove = false;
  const handle: LockHandle = {
    path: lockPath,
    removeOnRelease: () => {
      remove = true;
    },
  };
  try {
    return await fn(handle);
  } finally {
    if (remove) {
      try {
        fs.unlinkSync(lockPath);
      } catch {
        // already gone; leaving a stray lock file is harmless
      }
    }
    flock(fd, LOCK_UN); // close alone would release too; be explicit
    fs.closeSync(fd);
  }
}
