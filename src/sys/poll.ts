// poll(2) on one fd, for reads from descriptors we do not own the flags of: stdin may be a
// non-blocking pipe (O_NONBLOCK lives on the file description shared with the writer, so
// clearing it would change the writer's side too). Waiting in poll() costs no CPU.
import { errno, libc, SysError } from './libc';
import { EINTR } from './errno';

const POLLIN = 0x1;

type PollFn = (fds: Buffer, nfds: number, timeoutMs: number) => number;
let pollFn: PollFn | undefined;

/** Blocks until `fd` is readable, at EOF or in error (poll reports all three as ready). */
export function waitReadable(fd: number): void {
  pollFn ??= libc().func('int poll(void *fds, unsigned long nfds, int timeout)') as PollFn;
  const pfd = Buffer.alloc(8); // struct pollfd { int fd; short events; short revents; }
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  for (;;) {
    if (pollFn(pfd, 1, -1) >= 0) return;
    const e = errno();
    if (e !== EINTR) throw new SysError('poll', e, `fd ${fd}`);
  }
}
