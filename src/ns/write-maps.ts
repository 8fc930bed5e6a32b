// Writing a new user namespace's uid_map and gid_map, as real root from outside it: one write
// each (the kernel takes a map in a single write only), setgroups left at "allow".
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { CniError, ErrorCode } from '../cni/errors';
import { type IdMappings, formatMap } from './mappings';

function fail(msg: string, cause?: unknown): CniError {
  return new CniError(ErrorCode.NamespaceFailure, msg, cause === undefined ? {} : { cause });
}

function writeMap(pid: number, file: 'uid_map' | 'gid_map', text: string): void {
  const p = `/proc/${pid}/${file}`;
  let fd: number;
  try {
    fd = openSync(p, constants.O_WRONLY);
  } catch (e) {
    throw fail(`cannot open ${p}: ${(e as Error).message}`, e);
  }
  try {
    const buf = Buffer.from(text);
    const n = writeSync(fd, buf, 0, buf.length);
    if (n !== buf.length) throw fail(`short write to ${p}: ${n} of ${buf.length} bytes`);
  } catch (e) {
    if (e instanceof CniError) throw e;
    throw fail(`kernel refused ${file} ${JSON.stringify(text.trim())} for user namespace holder ${pid}: ${(e as Error).message}`, e);
  } finally {
    closeSync(fd);
  }
}

export function writeMaps(pid: number, mappings: IdMappings): void {
  writeMap(pid, 'uid_map', formatMap(mappings.uidMappings));
  writeMap(pid, 'gid_map', formatMap(mappings.gidMappings));
}
