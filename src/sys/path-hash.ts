// A short, stable name for a path: 64-bit FNV-1a as 16 hex digits. For spreading paths over
// file names (cache entries, lock files), never as proof of anything: two paths that collide
// only share a file name, and every user checks or tolerates that. It needs no node:crypto,
// whose loading would cost every call a few ms of start-up.
export function pathHash(path: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(path)) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}
