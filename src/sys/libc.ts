// The one place that loads libc through koffi. Modules declare the functions they need
// with `libc().func(...)` in their own file (e.g. src/ns/syscalls.ts), next to the code
// that uses them, and cache the result at module level.
import koffi, { type LibraryHandle } from 'koffi';

let handle: LibraryHandle | undefined;

export function libc(): LibraryHandle {
  handle ??= koffi.load('libc.so.6');
  return handle;
}

export { koffi };

/** errno of the last failed libc call; read it right after the call. */
export function errno(): number {
  return koffi.errno();
}

const errnoNames: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM',
  13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL',
  24: 'EMFILE', 28: 'ENOSPC', 30: 'EROFS', 38: 'ENOSYS', 40: 'ELOOP', 95: 'EOPNOTSUPP',
};

/** A readable "EPERM (1)" for error messages. */
export function errnoName(code: number): string {
  return `${errnoNames[code] ?? 'errno'} (${code})`;
}

/** An Error for a failed system call, carrying errno as `.errno`. */
export class SysError extends Error {
  override readonly name = 'SysError';
  constructor(readonly call: string, readonly errno: number, context = '') {
    super(`${call}${context ? ` ${context}` : ''}: ${errnoName(errno)}`);
  }
}
