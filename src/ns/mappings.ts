// uid/gid mapping types and validation. Validation runs before anything is created.
import { CniError, ErrorCode, show } from '../cni/errors';

import type { IdMapRange, IdMappings as SchemaIdMappings } from '../generated/types';

export type { IdMapRange };
/** The schema's IdMappings once resolved: the engine always writes both maps. */
export type IdMappings = Required<SchemaIdMappings>;

/** Kernel limit on extents per map (UID_GID_MAP_MAX_EXTENTS). */
export const MAX_MAP_RANGES = 340;
/** An id is a u32 and (u32)-1 is the invalid id, so `id + size` may reach 2^32 - 1 at most. */
export const MAX_ID_END = 0xffffffff;
/** The kernel refuses a map write of PAGE_SIZE bytes or more. */
export const MAX_MAP_BYTES = 4095;

function describe(name: string, i: number, r: IdMapRange): string {
  return `${name}[${i}] (containerID ${show(r?.containerID)}, hostID ${show(r?.hostID)}, size ${show(r?.size)})`;
}

function bad(msg: string): CniError {
  return new CniError(ErrorCode.MappingInvalid, `invalid id mapping: ${msg}`);
}

/** The text written to /proc/<pid>/{uid,gid}_map: one line per range. */
export function formatMap(ranges: IdMapRange[]): string {
  return ranges.map((r) => `${r.containerID} ${r.hostID} ${r.size}\n`).join('');
}

function validateOne(name: 'uidMappings' | 'gidMappings', ranges: unknown): void {
  if (!Array.isArray(ranges)) throw bad(`${name} must be an array of {containerID, hostID, size}, got ${show(ranges)}`);
  if (ranges.length === 0) throw bad(`${name} is empty: at least one range is needed`);
  if (ranges.length > MAX_MAP_RANGES) throw bad(`${name} has ${ranges.length} ranges, the kernel allows at most ${MAX_MAP_RANGES}`);
  const list = ranges as IdMapRange[];
  list.forEach((r, i) => {
    if (r === null || typeof r !== 'object') throw bad(`${name}[${i}] is not an object: ${show(r)}`);
    for (const k of ['containerID', 'hostID', 'size'] as const) {
      const v = r[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_ID_END) {
        throw bad(`${describe(name, i, r)}: ${k} must be an integer in 0..${MAX_ID_END}`);
      }
    }
    if (r.size <= 0) throw bad(`${describe(name, i, r)}: size must be > 0`);
    if (r.containerID + r.size > MAX_ID_END) {
      throw bad(`${describe(name, i, r)}: container range ends past ${MAX_ID_END - 1} (32-bit id space)`);
    }
    if (r.hostID + r.size > MAX_ID_END) {
      throw bad(`${describe(name, i, r)}: host range ends past ${MAX_ID_END - 1} (32-bit id space)`);
    }
  });
  // Overlaps: sort indices by start, compare neighbours; report the later index against the earlier.
  for (const key of ['containerID', 'hostID'] as const) {
    const order = list.map((_, i) => i).sort((a, b) => list[a]![key] - list[b]![key] || a - b);
    let maxEnd = -1;
    let maxIdx = -1;
    for (const i of order) {
      const r = list[i]!;
      if (r[key] < maxEnd) {
        const [first, second] = maxIdx < i ? [maxIdx, i] : [i, maxIdx];
        const kind = key === 'containerID' ? 'container' : 'host';
        throw bad(`${describe(name, second, list[second]!)}: overlaps ${name}[${first}] (${kind} IDs)`);
      }
      if (r[key] + r.size > maxEnd) {
        maxEnd = r[key] + r.size;
        maxIdx = i;
      }
    }
  }
  const bytes = Buffer.byteLength(formatMap(list));
  if (bytes > MAX_MAP_BYTES) {
    throw bad(`${name}: ${list.length} ranges take ${bytes} bytes, the kernel accepts at most ${MAX_MAP_BYTES} per map write`);
  }
}

/** Throws CniError(MappingInvalid) naming the first bad range. */
export function validateMappings(m: IdMappings): void {
  if (m === null || typeof m !== 'object') throw bad(`mappings must be an object with uidMappings and gidMappings, got ${show(m)}`);
  validateOne('uidMappings', m.uidMappings);
  validateOne('gidMappings', m.gidMappings);
}

/** Parse /proc/<pid>/uid_map text. */
export function parseMap(text: string): IdMapRange[] {
  const out: IdMapRange[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3) continue;
    out.push({ containerID: Number(f[0]), hostID: Number(f[1]), size: Number(f[2]) });
  }
  return out;
}
