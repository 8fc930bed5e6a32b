// The kernel's per-boot random id. Records carry it so DEL and GC can tell a record from
// an earlier boot: its pins and namespaces are gone, but IPAM reservations on disk
// (host-local) are not, and must still be released.
import fs from 'node:fs';
import { CniError, ErrorCode } from '../cni/errors';

const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';
let cached: string | undefined;

/** e.g. "3e1c7f0a-...". Read once per process; it cannot change while we run. */
export function currentBootId(): string {
  if (cached !== undefined) return cached;
  let id: string;
  try {
    id = fs.readFileSync(BOOT_ID_PATH, 'utf8').trim();
  } catch (err) {
    throw new CniError(ErrorCode.IoFailure, `cannot read ${BOOT_ID_PATH}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  if (!/^[0-9a-f-]{36}$/.test(id)) {
    throw new CniError(ErrorCode.IoFailure, `unexpected content in ${BOOT_ID_PATH}: ${JSON.stringify(id.slice(0, 40))}`);
  }
  cached = id;
  return id;
}
