// The one place that loads libc through koffi. Modules declare the functions they need
// with `libc().func(...)` in their own file (e.g. src/ns/syscalls.ts), next to the code
// that uses them, and cache the result at module level.
import koffi, { type LibraryHandle } from 'koffi';
import { errnoName } from './errno';

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

/** A readable "EPERM (1)" for error messages (kept here too: callers import it with libc). */
export { errnoName };

/** An Error for a failed system call, carrying errno as `.errno`. */
export class SysError extends Error {
  override readonly name = 'SysError';
  constructor(
    readonly call: string,
    readonly errno: number,
    context = '',
  ) {
    super(`${call}${context ? ` ${context}` : ''}: ${errnoName(errno)}`);
  }
}
