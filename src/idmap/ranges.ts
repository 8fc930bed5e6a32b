// Half-open id intervals [start, end) and the little arithmetic the allocator needs on them.
// Plain numbers are exact here: ids are < 2^32, far below 2^53.

export interface Span {
  start: number;
  /** Exclusive. */
  end: number;
}

/** Sorted, merged copy: overlapping or touching spans become one. */
export function normalize(spans: readonly Span[]): Span[] {
  const sorted = spans
    .filter((s) => s.end > s.start)
    .map((s) => ({ ...s }))
    .sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push(s);
  }
  return out;
}

/** `a` minus every span of `b`. */
export function subtract(a: readonly Span[], b: readonly Span[]): Span[] {
  const cut = normalize(b);
  const out: Span[] = [];
  for (const s of normalize(a)) {
    let cur = s.start;
    for (const c of cut) {
      if (c.end <= cur || c.start >= s.end) continue;
      if (c.start > cur) out.push({ start: cur, end: c.start });
      cur = Math.max(cur, c.end);
    }
    if (cur < s.end) out.push({ start: cur, end: s.end });
  }
  return out;
}

/** Ids present in both `a` and `b`. */
export function intersect(a: readonly Span[], b: readonly Span[]): Span[] {
  const x = normalize(a);
  const y = normalize(b);
  const out: Span[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const start = Math.max(x[i]!.start, y[j]!.start);
    const end = Math.min(x[i]!.end, y[j]!.end);
    if (start < end) out.push({ start, end });
    if (x[i]!.end < y[j]!.end) i++;
    else j++;
  }
  return out;
}

export function overlaps(a: Span, b: Span): boolean {
  return a.start < b.end && b.start < a.end;
}

/** Number of whole blocks of `blockSize`, aligned to `blockSize`, that fit inside `spans`. */
export function countAlignedBlocks(spans: readonly Span[], blockSize: number): number {
  let n = 0;
  for (const s of normalize(spans)) {
    const first = Math.ceil(s.start / blockSize) * blockSize;
    if (first + blockSize <= s.end) n += Math.floor((s.end - first) / blockSize);
  }
  return n;
}

/**
 * The lowest aligned block inside `pool` that overlaps nothing in `taken`, or undefined.
 * Walks the pool once, jumping past each taken span: cost O(pool spans + taken spans),
 * not O(blocks), so a 32767-block default pool costs nothing extra.
 */
export function lowestFreeBlock(pool: readonly Span[], taken: readonly Span[], blockSize: number): number | undefined {
  const busy = normalize(taken);
  let j = 0;
  for (const s of normalize(pool)) {
    let b = Math.ceil(s.start / blockSize) * blockSize;
    while (b + blockSize <= s.end) {
      while (j < busy.length && busy[j]!.end <= b) j++;
      const next = busy[j];
      if (!next || next.start >= b + blockSize) return b;
      // Skip to the first aligned block that starts at or after the end of the busy span.
      b = Math.ceil(next.end / blockSize) * blockSize;
    }
  }
  return undefined;
}
