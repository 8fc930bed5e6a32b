// /etc/subuid and /etc/subgid: "owner:start:count" per line (shadow-utils subuid(5)).
// The allocator reads them to take its pool from a configured owner's entries, or to keep
// its built-in default pool clear of every range the files give to anyone (podman, kubelet,
// rootless users...). The paths are parameters so tests use temp files, never the real ones.
import { readFileSync } from 'node:fs';
import { CniError, ErrorCode, show } from '../cni/errors';
import type { Span } from './ranges';

export interface SubidEntry extends Span {
  owner: string;
  line: number;
}

export interface SubidFile {
  path: string;
  entries: SubidEntry[];
  /** Lines that are not "owner:start:count" (shadow-utils skips them too); for the log. */
  ignored: { line: number; text: string }[];
}

const LINE = /^([^:\s]+):(\d{1,10}):(\d{1,10})$/;

export function parseSubid(text: string, path: string): SubidFile {
  const out: SubidFile = { path, entries: [], ignored: [] };
  text.split('\n').forEach((raw, i) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    const m = LINE.exec(t);
    const start = m ? Number(m[2]) : NaN;
    const count = m ? Number(m[3]) : NaN;
    // An entry past the 32-bit id space cannot be honoured by anyone; clamp rather than drop,
    // so that we still keep clear of the part that exists.
    if (!m || count === 0 || start > 0xffffffff) {
      out.ignored.push({ line: i + 1, text: t });
      return;
    }
    out.entries.push({ owner: m[1]!, start, end: Math.min(start + count, 0x1_0000_0000), line: i + 1 });
  });
  return out;
}

/** A missing file is an empty one (many hosts have none); any other read error is fatal. */
export function readSubid(path: string): SubidFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { path, entries: [], ignored: [] };
    throw new CniError(ErrorCode.IoFailure, `allocator: cannot read ${show(path)}: ${code ?? String(err)}`, { cause: err });
  }
  return parseSubid(text, path);
}

/** An owner is named as in the file: a user name, or a numeric uid written as such. */
export function rangesOf(file: SubidFile, owner: string): SubidEntry[] {
  return file.entries.filter((e) => e.owner === owner);
}

export function rangesNotOf(file: SubidFile, owner: string | undefined): SubidEntry[] {
  return file.entries.filter((e) => e.owner !== owner);
}
