// Linux errno values by name (asm-generic, the same on x86-64 and arm64), so that code compares
// `e.errno === EINVAL`, never `=== 22`. Only the ones the plugin branches on or names in a message.
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const EMFILE = 24;
export const ENOTTY = 25;
export const ENOSPC = 28;
export const EROFS = 30;
export const ENOSYS = 38;
export const ELOOP = 40;
export const EOPNOTSUPP = 95;
export const ETIMEDOUT = 110;

const names: Record<number, string> = {
  [EPERM]: 'EPERM',
  [ENOENT]: 'ENOENT',
  [ESRCH]: 'ESRCH',
  [EINTR]: 'EINTR',
  [EBADF]: 'EBADF',
  [EAGAIN]: 'EAGAIN',
  [ENOMEM]: 'ENOMEM',
  [EACCES]: 'EACCES',
  [EBUSY]: 'EBUSY',
  [EEXIST]: 'EEXIST',
  [ENOTDIR]: 'ENOTDIR',
  [EISDIR]: 'EISDIR',
  [EINVAL]: 'EINVAL',
  [EMFILE]: 'EMFILE',
  [ENOTTY]: 'ENOTTY',
  [ENOSPC]: 'ENOSPC',
  [EROFS]: 'EROFS',
  [ENOSYS]: 'ENOSYS',
  [ELOOP]: 'ELOOP',
  [EOPNOTSUPP]: 'EOPNOTSUPP',
  [ETIMEDOUT]: 'ETIMEDOUT',
};

/** A readable "EPERM (1)" for error messages. */
export function errnoName(code: number): string {
  return `${names[code] ?? 'errno'} (${code})`;
}
