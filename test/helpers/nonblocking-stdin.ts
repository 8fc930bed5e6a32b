// Runs the built plugin with stdin on a non-blocking pipe whose writer waits before writing,
// and measures the CPU the plugin used (rusage from wait4). Node's own spawn cannot do this:
// libuv clears O_NONBLOCK on a child's fds 0-2, so the child is started with posix_spawn.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errno, libc } from '../../src/sys/libc';
import { PLUGIN } from './plugin';

type Fn = (...a: unknown[]) => number;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const WNOHANG = 1;

export interface NonBlockingRun {
  status: number;
  stdout: string;
  cpuMs: number;
  wallMs: number;
}

export async function runWithNonBlockingStdin(env: Record<string, string>, input: string, writerDelayMs: number): Promise<NonBlockingRun> {
  const L = libc();
  const pipe2 = L.func('int pipe2(void *fds, int flags)') as Fn;
  const write = L.func('long write(int fd, const void *buf, unsigned long n)') as Fn;
  const close = L.func('int close(int fd)') as Fn;
  const faInit = L.func('int posix_spawn_file_actions_init(void *fa)') as Fn;
  const faDup2 = L.func('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)') as Fn;
  const faOpen = L.func('int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int oflag, uint32_t mode)') as Fn;
  const spawn = L.func('int posix_spawn(void *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)') as Fn;
  const wait4 = L.func('int wait4(int pid, void *status, int options, void *rusage)') as Fn;

  const dir = mkdtempSync(join(tmpdir(), 'uxn-nbstdin-'));
  const out = join(dir, 'stdout');
  const fds = Buffer.alloc(8);
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) !== 0) throw new Error(`pipe2: errno ${errno()}`);
  const [r, w] = [fds.readInt32LE(0), fds.readInt32LE(4)];
  const fa = Buffer.alloc(256);
  faInit(fa);
  faDup2(fa, r, 0); // dup2 keeps the file description, so O_NONBLOCK stays on the child's stdin
  faOpen(fa, 1, out, 0o1101 /* O_WRONLY|O_CREAT|O_TRUNC */, 0o600);
  faOpen(fa, 2, '/dev/null', 1, 0);
  const pidBuf = Buffer.alloc(4);
  const envList = [`PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), null];
  const t0 = performance.now();
  const rc = spawn(pidBuf, PLUGIN, fa, null, [PLUGIN, null], envList);
  close(r);
  if (rc !== 0) throw new Error(`posix_spawn: ${rc}`);
  const pid = pidBuf.readInt32LE(0);
  try {
    await sleep(writerDelayMs);
    const data = Buffer.from(input);
    if (write(w, data, data.length) !== data.length) throw new Error(`write: errno ${errno()}`);
    close(w);
    const status = Buffer.alloc(4);
    const ru = Buffer.alloc(144); // struct rusage: ru_utime, ru_stime (struct timeval) first
    for (;;) {
      const got = wait4(pid, status, WNOHANG, ru);
      if (got === pid) break;
      if (got < 0) throw new Error(`wait4: errno ${errno()}`);
      if (performance.now() - t0 > 30_000) throw new Error('plugin did not exit within 30 s');
      await sleep(10);
    }
    const tv = (o: number) => Number(ru.readBigInt64LE(o)) * 1000 + Number(ru.readBigInt64LE(o + 8)) / 1000;
    const st = status.readInt32LE(0);
    return { status: (st >> 8) & 0xff, stdout: readFileSync(out, 'utf8'), cpuMs: tv(0) + tv(16), wallMs: performance.now() - t0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
