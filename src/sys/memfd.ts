// An anonymous in-memory file (memfd_create): somewhere for a child's stdout/stderr to go that
// is not a pipe, so that waiting for the child means waiting for its exit only, never for the
// last holder of a pipe (see src/delegate/exec.ts).
import { SysError, errno, libc } from './libc';

const MFD_CLOEXEC = 1; // the child gets it by dup2 onto its fd 1/2, which clears the flag there

let memfdCreate: ((name: string, flags: number) => number) | undefined;

export function memfd(name: string): number {
  memfdCreate ??= libc().func('int memfd_create(const char *name, unsigned int flags)');
  const fd = memfdCreate(name, MFD_CLOEXEC);
  if (fd < 0) throw new SysError('memfd_create', errno(), name);
  return fd;
}
