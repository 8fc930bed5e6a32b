// libc functions the state layer needs that Node's fs does not offer. Only flock: Node has
// no file locking at all. Declared lazily so importing this module loads nothing native.
import { libc } from '../sys/libc';

export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

type FlockFn = (fd: number, operation: number) => number;
let flockFn: FlockFn | undefined;

/** flock(2). Synchronous only: callers must pass LOCK_NB, or the event loop freezes. */
export function flock(fd: number, operation: number): number {
  flockFn ??= libc().func('int flock(int fd, int operation)') as FlockFn;
  return flockFn(fd, operation);
}
