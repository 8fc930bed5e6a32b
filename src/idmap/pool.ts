// Which host ids the allocator may hand out, from the `allocator` config section:
//   start + size|count  -> exactly that range, as given (the admin vouches for it);
//   subidOwner          -> the ids /etc/subuid AND /etc/subgid give that owner (the gid map
//                          equals the uid map), minus anything the files also give others;
//   neither             -> DEFAULT_POOL minus every range either file gives to anyone.
// Why the default sits at 2^31: kubelet's own default claims ids 65536..2^31-1 (its
// userns allocator), podman/rootless users get small ranges from /etc/subuid, and the top half
// of the 32-bit id space is what nobody hands out by default. Blocks are aligned to
// blockSize in absolute host ids, as kubelet's are, so ranges read well in uid_map and logs.
import { CniError, ErrorCode, show } from '../cni/errors';
import type { AllocatorConfig } from '../config/netconf';
import { MAX_ID_END } from '../ns/mappings';
import { countAlignedBlocks, intersect, subtract, type Span } from './ranges';
import { rangesNotOf, rangesOf, readSubid, type SubidFile } from './subid';

/** 2^31: the first id of the built-in default pool. */
export const DEFAULT_POOL_START = 0x8000_0000;
/** Exclusive end of any pool: a mapping's hostID + size may reach 2^32 - 1 at most. */
export const POOL_LIMIT = MAX_ID_END;

export interface Pool {
  /** Short, stable name stored in records (`allocation.pool`). */
  id: string;
  /** For error messages: where the pool comes from and what it spans. */
  description: string;
  /** Ids the allocator may use (exclusions already removed). */
  spans: Span[];
  blockSize: number;
  /** Aligned blocks that fit in `spans`. */
  blocks: number;
  /** Warnings for the log (e.g. ignored lines of /etc/subuid). */
  warnings: string[];
}

function configError(msg: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, msg);
}

function fmtSpans(spans: readonly Span[]): string {
  if (spans.length === 0) return 'nothing';
  const shown = spans
    .slice(0, 4)
    .map((s) => `${s.start}-${s.end - 1}`)
    .join(', ');
  return spans.length > 4 ? `${shown}, ... (${spans.length} ranges)` : shown;
}

function fileWarnings(files: SubidFile[]): string[] {
  return files.flatMap((f) => f.ignored.map((l) => `${f.path}:${l.line}: ignored malformed entry ${show(l.text)}`));
}

function explicitPool(a: AllocatorConfig): Pool {
  const bs = a.blockSize;
  const start = a.start!;
  if (a.size !== undefined && a.count !== undefined) {
    throw configError(`allocator: set either size (${a.size}) or count (${a.count}), not both`);
  }
  if (a.size === undefined && a.count === undefined) {
    throw configError(`allocator.start: ${start} needs allocator.size (ids) or allocator.count (blocks) to bound the pool`);
  }
  if (start % bs !== 0) {
    throw configError(`allocator.start: ${start} is not a multiple of allocator.blockSize ${bs} (blocks are aligned); e.g. ${Math.ceil(start / bs) * bs}`);
  }
  if (a.size !== undefined && a.size % bs !== 0) {
    throw configError(`allocator.size: ${a.size} is not a multiple of allocator.blockSize ${bs}`);
  }
  const size = a.size ?? a.count! * bs;
  if (start + size > POOL_LIMIT) {
    throw configError(`allocator: pool ${start}+${size} ends at ${start + size - 1}, past the last usable id ${POOL_LIMIT - 1}`);
  }
  const spans = [{ start, end: start + size }];
  return {
    id: `config:${start}+${size}`,
    description: `config pool ${start}-${start + size - 1}`,
    spans,
    blockSize: bs,
    blocks: size / bs,
    warnings: [],
  };
}

function subidPool(a: AllocatorConfig, read: (path: string) => SubidFile): Pool {
  const owner = a.subidOwner!;
  const uid = read(a.subuidFile);
  const gid = read(a.subgidFile);
  const mine = intersect(rangesOf(uid, owner), rangesOf(gid, owner));
  const others = [...rangesNotOf(uid, owner), ...rangesNotOf(gid, owner)];
  const spans = subtract(mine, [...others, { start: POOL_LIMIT, end: 0x1_0000_0000 }]);
  const blocks = countAlignedBlocks(spans, a.blockSize);
  if (blocks === 0) {
    throw configError(
      `allocator.subidOwner: ${show(owner)} has no usable block of ${a.blockSize} ids aligned to ${a.blockSize}: ` +
        `${a.subuidFile} gives ${fmtSpans(rangesOf(uid, owner))}, ${a.subgidFile} gives ${fmtSpans(rangesOf(gid, owner))}` +
        (others.length ? `, other owners hold ${fmtSpans(others)}` : '') +
        `; add an aligned entry to both files, e.g. "${owner}:${DEFAULT_POOL_START}:${a.blockSize * 1024}"`,
    );
  }
  return {
    id: `subid:${owner}`,
    description: `pool of subid owner ${show(owner)} (${fmtSpans(spans)})`,
    spans,
    blockSize: a.blockSize,
    blocks,
    warnings: fileWarnings([uid, gid]),
  };
}

function defaultPool(a: AllocatorConfig, read: (path: string) => SubidFile): Pool {
  const uid = read(a.subuidFile);
  const gid = read(a.subgidFile);
  const spans = subtract([{ start: DEFAULT_POOL_START, end: POOL_LIMIT }], [...uid.entries, ...gid.entries]);
  const blocks = countAlignedBlocks(spans, a.blockSize);
  if (blocks === 0) {
    throw configError(`allocator: the default pool ${DEFAULT_POOL_START}-${POOL_LIMIT - 1} is wholly assigned to other owners in ${a.subuidFile}/${a.subgidFile}; set allocator.start and allocator.count, or allocator.subidOwner`);
  }
  return {
    id: 'default',
    description: `default pool ${DEFAULT_POOL_START}-${POOL_LIMIT - 1} minus ${a.subuidFile}/${a.subgidFile} ranges (${fmtSpans(spans)})`,
    spans,
    blockSize: a.blockSize,
    blocks,
    warnings: fileWarnings([uid, gid]),
  };
}

/** The pool the config describes. Throws code 7 naming the key and value when inconsistent. */
export function poolFromConfig(a: AllocatorConfig, read: (path: string) => SubidFile = readSubid): Pool {
  const bounded = a.start !== undefined || a.size !== undefined || a.count !== undefined;
  if (a.subidOwner !== undefined && bounded) {
    throw configError(`allocator.subidOwner: ${show(a.subidOwner)} cannot be combined with allocator.start/size/count; use one or the other`);
  }
  if (a.subidOwner !== undefined) return subidPool(a, read);
  if (bounded) {
    if (a.start === undefined) throw configError(`allocator: ${a.size !== undefined ? `size ${a.size}` : `count ${a.count}`} needs allocator.start`);
    return explicitPool(a);
  }
  return defaultPool(a, read);
}
