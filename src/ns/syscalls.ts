// libc functions the namespace engine needs, declared once (module level) through the shared
// loader. Everything here is synchronous: the calls are short and several are variadic.
import { libc, koffi, errno, SysError } from '../sys/libc';
import { EINTR, errnoName } from '../sys/errno';

// Flags and constants (generic Linux values: the same on x86-64 and arm64).
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_PIDFD = 0x1000;
export const CLONE_VM = 0x100;
export const SIGCHLD = 17;
export const SIGKILL = 9;

export const NS_GET_USERNS = 0xb701;
export const NS_GET_PARENT = 0xb702;
export const NS_GET_NSTYPE = 0xb703;
export const NS_GET_OWNER_UID = 0xb704;

export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_SHARED = 1 << 20;
export const MNT_DETACH = 2;
export const UMOUNT_NOFOLLOW = 8;

export const P_PIDFD = 3;
export const WNOHANG = 1;
export const WEXITED = 4;
export const WNOWAIT = 0x01000000;

const MAP_STACK = 0x20000;
const MAP_FAILED = 0xffffffffffffffffn;

type Fn = (...args: unknown[]) => number;

let cache:
  | {
      clone: Fn;
      mmap: (...a: unknown[]) => bigint;
      mount: Fn;
      umount2: Fn;
      ioctl: Fn;
      pidfd_open: Fn;
      pidfd_send_signal: Fn;
      waitid: Fn;
      posix_spawn: Fn;
      fa_init: Fn;
      fa_destroy: Fn;
      fa_adddup2: Fn;
      fa_addopen: Fn;
      pipe2: Fn;
      setns: Fn;
      socket: Fn;
      close: Fn;
      mprotect: Fn;
      syscall: Fn;
      sleepAddr: bigint;
    }
  | undefined;

function s() {
  if (cache) return cache;
  const L = libc();
  cache = {
    clone: L.func('int clone(void *fn, void *stack, int flags, void *arg, ...)') as Fn,
    mmap: L.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, intptr_t off)') as unknown as (...a: unknown[]) => bigint,
    mount: L.func('int mount(const char *src, const char *tgt, const char *fstype, unsigned long flags, void *data)') as Fn,
    umount2: L.func('int umount2(const char *tgt, int flags)') as Fn,
    ioctl: L.func('int ioctl(int fd, unsigned long req, ...)') as Fn,
    pidfd_open: L.func('int pidfd_open(int pid, unsigned int flags)') as Fn,
    pidfd_send_signal: L.func('int pidfd_send_signal(int pidfd, int sig, void *info, unsigned int flags)') as Fn,
    waitid: L.func('int waitid(int idtype, unsigned int id, void *info, int options)') as Fn,
    posix_spawn: L.func('int posix_spawn(void *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)') as Fn,
    fa_init: L.func('int posix_spawn_file_actions_init(void *fa)') as Fn,
    fa_destroy: L.func('int posix_spawn_file_actions_destroy(void *fa)') as Fn,
    fa_adddup2: L.func('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)') as Fn,
    fa_addopen: L.func('int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int oflag, uint32_t mode)') as Fn,
    pipe2: L.func('int pipe2(void *fds, int flags)') as Fn,
    setns: L.func('int setns(int fd, int nstype)') as Fn,
    socket: L.func('int socket(int domain, int type, int protocol)') as Fn,
    close: L.func('int close(int fd)') as Fn,
    mprotect: L.func('int mprotect(void *addr, size_t len, int prot)') as Fn,
    syscall: L.func('long syscall(long n, ...)') as Fn,
    sleepAddr: L.symbol('sleep') as bigint,
  };
  return cache;
}

function check(call: string, rc: number, context = ''): number {
  if (rc < 0) throw new SysError(call, errno(), context);
  return rc;
}

// One stack for every clone child, allocated once. Without CLONE_VM (clone(sleep)) the child gets
// its own copy-on-write copy of it, so reusing it for the next clone is safe; the clone holder
// (CLONE_VM) shares it, so creations run one at a time (create.ts) and each holder is gone
// before the next one starts.
const STACK_SIZE = 64 * 1024;
let stackTop: bigint | undefined;
function childStackTop(): bigint {
  if (stackTop !== undefined) return stackTop;
  const p = s().mmap(null, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  const addr = BigInt(p as unknown as bigint);
  if (addr === MAP_FAILED || addr === 0n) throw new SysError('mmap', errno(), 'child stack');
  stackTop = addr + BigInt(STACK_SIZE);
  return stackTop;
}

/**
 * clone(fn, flags | CLONE_PIDFD | SIGCHLD, arg) on the shared child stack: the child runs `fn`
 * (a native function: no JS can run in it). Returns pid and pidfd.
 */
export function cloneChild(fn: bigint, flags: number, arg: bigint, what: string): { pid: number; pidfd: number } {
  const pidfdBuf = Buffer.alloc(4);
  const pid = s().clone(fn, childStackTop(), flags | CLONE_PIDFD | SIGCHLD, arg, 'void *', pidfdBuf);
  if (pid < 0) throw new SysError('clone', errno(), `flags 0x${flags.toString(16)} (${what})`);
  return { pid, pidfd: pidfdBuf.readInt32LE(0) };
}

/**
 * clone() a child that runs libc's `sleep(seconds)` and nothing else (no JS, no exec).
 * Returns pid and pidfd (CLONE_PIDFD). The child exits by itself after `seconds`.
 */
export function cloneSleeper(flags: number, seconds: number): { pid: number; pidfd: number } {
  return cloneChild(s().sleepAddr, flags, BigInt(seconds), 'sleep');
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;
export const MAP_ANONYMOUS = 0x20;

/** mmap(NULL, len, prot, flags, -1, 0), or undefined when the kernel refuses. */
export function mmapAnonymous(len: number, prot: number, flags: number): bigint | undefined {
  const addr = BigInt(s().mmap(null, len, prot, flags | MAP_ANONYMOUS, -1, 0) as unknown as bigint);
  return addr === MAP_FAILED || addr === 0n ? undefined : addr;
}

/** mprotect(2): true on success. */
export function mprotect(addr: bigint, len: number, prot: number): boolean {
  return s().mprotect(addr, len, prot) === 0;
}

/** A raw syscall(2) with koffi-typed variadic arguments; returns -1 and sets errno on failure. */
export function rawSyscall(nr: number, ...args: unknown[]): number {
  return s().syscall(nr, ...args);
}

/** A view of native memory (an mmap'ed page) as an ArrayBuffer. */
export function nativeView(addr: bigint, len: number): ArrayBuffer {
  return koffi.view(addr, len);
}

/** ioctl(fd, req, 0) returning the result (a new fd for NS_GET_USERNS/PARENT). */
export function nsIoctl(fd: number, req: number): number {
  const rc = s().ioctl(fd, req, 'unsigned long', 0);
  if (rc < 0) throw new SysError('ioctl', errno(), `0x${req.toString(16)} on fd ${fd}`);
  return rc;
}

/** Same, but returns -errno instead of throwing. */
export function nsIoctlRaw(fd: number, req: number): number {
  const rc = s().ioctl(fd, req, 'unsigned long', 0);
  return rc < 0 ? -errno() : rc;
}

export function mount(src: string | null, tgt: string, fstype: string | null, flags: number): void {
  check('mount', s().mount(src, tgt, fstype, flags, null), `${src ?? '(none)'} -> ${tgt}`);
}

/** umount2 returning 0 or -errno. */
export function umount2Raw(tgt: string, flags: number): number {
  const rc = s().umount2(tgt, flags);
  return rc < 0 ? -errno() : 0;
}

export function pidfdOpen(pid: number): number {
  return check('pidfd_open', s().pidfd_open(pid, 0), `pid ${pid}`);
}

export function pidfdKill(pidfd: number): number {
  const rc = s().pidfd_send_signal(pidfd, SIGKILL, null, 0);
  return rc < 0 ? -errno() : 0;
}

/** true while the process behind pidfd has not exited (does not reap). */
export function pidfdAlive(pidfd: number): boolean {
  const info = Buffer.alloc(128);
  const rc = s().waitid(P_PIDFD, pidfd, info, WEXITED | WNOHANG | WNOWAIT);
  if (rc < 0) return false; // ECHILD: already reaped, so not alive
  return info.readInt32LE(16) === 0; // si_pid stays 0 when nothing has exited
}

/** Reap the (killed) child behind pidfd; blocks until it has exited. Returns -errno or 0. */
export function pidfdReap(pidfd: number): number {
  const info = Buffer.alloc(128);
  for (;;) {
    const rc = s().waitid(P_PIDFD, pidfd, info, WEXITED);
    if (rc === 0) return 0;
    const e = errno();
    if (e !== EINTR) return -e;
  }
}

/** wait status of an exited (not yet reaped) child: {code, signal} from siginfo. */
export function pidfdExitInfo(pidfd: number): { code: number; status: number } | undefined {
  const info = Buffer.alloc(128);
  const rc = s().waitid(P_PIDFD, pidfd, info, WEXITED | WNOHANG | WNOWAIT);
  if (rc < 0 || info.readInt32LE(16) === 0) return undefined;
  return { code: info.readInt32LE(8), status: info.readInt32LE(24) };
}

export function pipe(): [number, number] {
  const b = Buffer.alloc(8);
  check('pipe2', s().pipe2(b, 0o2000000 /* O_CLOEXEC */));
  return [b.readInt32LE(0), b.readInt32LE(4)];
}

/**
 * posix_spawn(path, argv): stdin on /dev/null, stdout -> outFd (or /dev/null), stderr -> errFd,
 * fd 3 -> fd3. The child runs no JS (posix_spawn is vfork+exec). It is ours and unreaped, so a
 * pidfd_open on its pid cannot race with pid reuse.
 */
export function spawn(path: string, argv: string[], env: string[], fd3: number, errFd: number, outFd = -1): number {
  const c = s();
  const fa = Buffer.alloc(256);
  check('posix_spawn_file_actions_init', -c.fa_init(fa));
  try {
    let rc = c.fa_addopen(fa, 0, '/dev/null', 0 /* O_RDONLY */, 0);
    if (rc === 0) rc = outFd >= 0 ? c.fa_adddup2(fa, outFd, 1) : c.fa_addopen(fa, 1, '/dev/null', 1 /* O_WRONLY */, 0);
    if (rc === 0) rc = c.fa_adddup2(fa, errFd, 2);
    if (rc === 0) rc = c.fa_adddup2(fa, fd3, 3);
    if (rc !== 0) throw new SysError('posix_spawn_file_actions', rc);
    const pidBuf = Buffer.alloc(4);
    rc = c.posix_spawn(pidBuf, path, fa, null, [...argv, null], [...env, null]);
    if (rc !== 0) throw new SysError('posix_spawn', rc, path);
    return pidBuf.readInt32LE(0);
  } finally {
    c.fa_destroy(fa);
  }
}

export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_CLOEXEC = 0o2000000;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 1;

/** setns(fd, nstype); only CLONE_NEWNET is safe in a multithreaded process (per-thread). */
export function setns(fd: number, nstype: number): void {
  check('setns', s().setns(fd, nstype), `fd ${fd}`);
}

/**
 * A socket created inside the netns behind netFd: this thread joins it for the socket() call
 * only and returns to its own netns (restoreFd) before anything else runs. If it cannot
 * return, continuing would run the rest of the process in the pod's netns: abort instead.
 */
export function socketIn(netFd: number, restoreFd: number): number {
  const c = s();
  setns(netFd, CLONE_NEWNET);
  const sock = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const e = errno();
  if (c.setns(restoreFd, CLONE_NEWNET) !== 0) {
    process.stderr.write(`fatal: cannot return to own netns: ${errnoName(errno())}\n`);
    process.abort();
  }
  if (sock < 0) throw new SysError('socket', e, 'in new netns');
  return sock;
}

/** Set IFF_UP on interface `name` through a socket (SIOCGIFFLAGS/SIOCSIFFLAGS). */
export function linkUp(sock: number, name: string): void {
  const c = s();
  const ifr = Buffer.alloc(40);
  ifr.write(name, 0, 15, 'latin1');
  check('ioctl', c.ioctl(sock, SIOCGIFFLAGS, 'void *', ifr), `SIOCGIFFLAGS ${name}`);
  const flags = ifr.readUInt16LE(16);
  if (flags & IFF_UP) return;
  ifr.writeUInt16LE(flags | IFF_UP, 16);
  check('ioctl', c.ioctl(sock, SIOCSIFFLAGS, 'void *', ifr), `SIOCSIFFLAGS ${name}`);
}

export function closeFd(fd: number): void {
  s().close(fd);
}

/**
 * NS_GET_OWNER_UID: the uid (as seen from our user namespace) that created the user
 * namespace behind `userFd`. Returns -errno on failure.
 */
export function nsOwnerUid(userFd: number): number {
  const buf = Buffer.alloc(4);
  const rc = s().ioctl(userFd, NS_GET_OWNER_UID, 'void *', buf);
  return rc < 0 ? -errno() : buf.readUInt32LE(0);
}

const SYS_CLOSE_RANGE = 436;
const CLOSE_RANGE_CLOEXEC = 4;

/**
 * Marks every fd from `first` up close-on-exec (close_range(2), Linux 5.11+), without closing
 * any: whatever this process inherited or opened stays usable here and reaches no program it
 * execs. Returns -errno on failure.
 */
export function cloexecFrom(first: number): number {
  const rc = s().syscall(SYS_CLOSE_RANGE, 'unsigned int', first, 'unsigned int', 0xffffffff, 'unsigned int', CLOSE_RANGE_CLOEXEC);
  return rc < 0 ? -errno() : 0;
}
