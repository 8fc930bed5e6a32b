// Bringing `lo` up inside a new netns: the socket is made in it (this thread joins it for the
// socket() call only), the flags are set through that socket from here.
import { closeSync, openSync } from 'node:fs';
import { closeFd, linkUp, socketIn } from './syscalls';

export function bringLoopbackUp(netFd: number): void {
  const hostNetFd = openSync('/proc/thread-self/ns/net', 'r');
  try {
    const sock = socketIn(netFd, hostNetFd);
    try {
      linkUp(sock, 'lo');
    } finally {
      closeFd(sock);
    }
  } finally {
    closeSync(hostNetFd);
  }
}
