// The host's own namespaces (the ones this process runs in), by inode, read once.
import { statSync } from 'node:fs';

let hostUserIno: number | undefined;
let hostNetIno: number | undefined;

/** Inode of the user namespace this process runs in (the host's). */
export function hostUsernsInode(): number {
  hostUserIno ??= statSync('/proc/self/ns/user').ino;
  return hostUserIno;
}

/** Inode of the network namespace this process runs in (the host's). */
export function hostNetnsInode(): number {
  hostNetIno ??= statSync('/proc/self/ns/net').ino;
  return hostNetIno;
}
