// CNI spec versions: which ones we speak, and how to pick one both sides speak.
// Delegates also answer VERSION with versions we never speak (0.1.0, 0.2.0): those only
// ever appear on the "theirs" side and simply never match.

/** The versions this plugin reads and writes, oldest first. */
export const SUPPORTED_VERSIONS: readonly string[] = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

const VERSION_RE = /^(\d+)\.(\d+)\.(\d+)$/;

function parts(v: string): [number, number, number] | undefined {
  const m = VERSION_RE.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** True when `v` is a well-formed "X.Y.Z" version string. */
export function isValidVersion(v: unknown): v is string {
  return typeof v === 'string' && parts(v) !== undefined;
}

/**
 * Numeric comparison of "X.Y.Z" versions: negative, 0 or positive like a sort comparator.
 * Throws a TypeError on a malformed version: callers validate input at the edge first.
 */
export function compareVersions(a: string, b: string): number {
  const pa = parts(a);
  const pb = parts(b);
  if (!pa || !pb) throw new TypeError(`not a CNI version: ${JSON.stringify(pa ? b : a)}`);
  for (let i = 0; i < 3; i++) {
    const d = pa[i]! - pb[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

export function isSupported(v: unknown): v is string {
  return typeof v === 'string' && SUPPORTED_VERSIONS.includes(v);
}

/**
 * The highest version present in both lists, optionally capped at `max` (a delegate must
 * never get a newer version than the config asked for). Malformed entries are ignored:
 * they come from a delegate's VERSION answer and cannot match anything we speak anyway.
 */
export function highestCommon(ours: readonly string[], theirs: readonly string[], max?: string): string | undefined {
  const theirSet = new Set(theirs.filter(isValidVersion));
  let best: string | undefined;
  for (const v of ours) {
    if (!isValidVersion(v) || !theirSet.has(v)) continue;
    if (max !== undefined && compareVersions(v, max) > 0) continue;
    if (best === undefined || compareVersions(v, best) > 0) best = v;
  }
  return best;
}
