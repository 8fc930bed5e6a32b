// Who is on the other end of a helper connection. Only a peer that could have run the call
// in-process with the same effect is served: root (SO_PEERCRED uid 0) in the helper's own
// network, mount and user namespaces (compared by the namespaces' inodes). A shim in a container
// with its own netns, say, would otherwise get the host's netns paths resolved by the helper.
import { statSync, type Stats } from 'node:fs';
import { errno, errnoName, libc } from '../sys/libc';

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const NAMESPACES = ['net', 'mnt', 'user'] as const;

let getsockopt: ((fd: number, level: number, name: number, val: Buffer, len: Buffer) => number) | undefined;

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

export function peerCred(fd: number): PeerCred {
  getsockopt ??= libc().func('int getsockopt(int fd, int level, int name, _Inout_ void *val, _Inout_ void *len)');
  const cred = Buffer.alloc(12); // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
  const len = Buffer.alloc(4);
  len.writeUInt32LE(cred.length);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, len) !== 0) throw new Error(`getsockopt(SO_PEERCRED): ${errnoName(errno())}`);
  return { pid: cred.readInt32LE(0), uid: cred.readUInt32LE(4), gid: cred.readUInt32LE(8) };
}

/** Why this peer is not served, or undefined when it is. */
export function peerRefusal(cred: PeerCred): string | undefined {
  if (cred.uid !== 0) return `peer uid ${cred.uid} is not root`;
  // 0: the peer's pid is not visible in our pid namespace.
  if (cred.pid <= 0) return 'the peer is in another pid namespace';
  for (const ns of NAMESPACES) {
    const ours = statSync(`/proc/self/ns/${ns}`);
    let theirs: Stats;
    try {
      theirs = statSync(`/proc/${cred.pid}/ns/${ns}`);
    } catch (err) {
      return `cannot read the ${ns} namespace of peer pid ${cred.pid}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
    }
    if (theirs.ino !== ours.ino || theirs.dev !== ours.dev) return `peer pid ${cred.pid} is in another ${ns} namespace`;
  }
  return undefined;
}
