// What the mutation pass knows so far, kept in the report dir as append-only logs (two runners
// append side by side; a line is one write): every mutant's outcome as it is known, and which
// tests pass alone. A pass stopped half-way resumes from them; a pass after a change re-runs
// only what the change can alter.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileHash, fileOf } from './test-process';

export interface Outcome {
  /** Stryker's id for it in the pass that recorded this */
  mutant: string;
  /** the source file it mutates, the hash of its instrumented text with ids made relative to the file's first, its place there */
  file: string;
  src: string;
  ordinal: number;
  /** killed; survived every test reaching it; survived those the time budget allowed; reached by none */
  status: 'killed' | 'survived' | 'budget' | 'uncovered';
  killedBy?: string;
  hung?: boolean;
  /** the tests it was run against, each with its file's hash then */
  tried: Record<string, string>;
  /** tests reaching it */
  reaching: number;
  ms: number;
}

function lines<T>(file: string): T[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as T);
  } catch {
    return [];
  }
}

const hashes = new Map<string, string | undefined>();
/** A test file's hash now (undefined once it is gone), read once per process. */
function currentHash(file: string): string | undefined {
  if (!hashes.has(file)) {
    try {
      hashes.set(file, fileHash(file));
    } catch {
      hashes.set(file, undefined);
    }
  }
  return hashes.get(file);
}

/** Was `test` run against this mutant, in its file as it is now? */
export const alreadyTried = (o: Outcome | undefined, test: string) => o !== undefined && o.tried[test] !== undefined && o.tried[test] === currentHash(fileOf(test));

/** The last outcome of this very mutant (same file, same instrumented text, same place), if any. */
export function lastOutcome(reportDir: string, file: string, src: string, ordinal: number): Outcome | undefined {
  let last: Outcome | undefined;
  for (const o of lines<Outcome>(join(reportDir, 'outcomes.jsonl'))) if (o.file === file && o.src === src && o.ordinal === ordinal) last = o;
  return last;
}

/** A kill holds while the killing test is unchanged. */
export const killHolds = (o: Outcome) => o.status === 'killed' && o.killedBy !== undefined && alreadyTried(o, o.killedBy);

/** Test id -> how many mutants of `file` it killed so far (the last outcome of each). */
export function killsIn(reportDir: string, file: string): Map<string, number> {
  const last = new Map<string, Outcome>();
  for (const o of lines<Outcome>(join(reportDir, 'outcomes.jsonl'))) if (o.file === file) last.set(`${o.src}#${o.ordinal}`, o);
  const kills = new Map<string, number>();
  for (const o of last.values()) if (o.killedBy) kills.set(o.killedBy, (kills.get(o.killedBy) ?? 0) + 1);
  return kills;
}

export function recordOutcome(reportDir: string, o: Outcome): void {
  appendFileSync(join(reportDir, 'outcomes.jsonl'), `${JSON.stringify(o)}\n`);
}

/** Tests found to pass (true) or fail (false) alone without a mutant, in their files as they are now. */
export function knownStandalone(reportDir: string): Map<string, boolean> {
  const known = new Map<string, boolean>();
  for (const o of lines<{ test: string; fileHash: string; ok: boolean }>(join(reportDir, 'standalone.jsonl'))) {
    if (o.fileHash === currentHash(fileOf(o.test))) known.set(o.test, o.ok);
  }
  return known;
}

export function recordStandalone(reportDir: string, test: string, ok: boolean): void {
  appendFileSync(join(reportDir, 'standalone.jsonl'), `${JSON.stringify({ test, fileHash: currentHash(fileOf(test)), ok })}\n`);
}
