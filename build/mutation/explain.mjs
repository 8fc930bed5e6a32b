// Records why an undetected mutant cannot be detected, so the score leaves it out and the summary
// lists it with its reason (build/mutation/explained.jsonl, kept in the repo):
//   node build/mutation/explain.mjs <src file> <id>[,<id>...] <equivalent|unreachable|not-observable> <reason>
// The ids are those of the last pass (reports/mutation/summary.md). An explanation is tied to the
// mutant's identity (the file's instrumented text and the mutant's place in it, as its outcome
// is): once the file changes it no longer applies, and the mutant is judged again.
//   equivalent      no program can tell the mutant from the original (e.g. `fd > 0` for `fd >= 0`
//                   where fd 0 is never a namespace fd)
//   unreachable     the code runs only on a failure that cannot be brought about as root on a
//                   live kernel, or only by a race (a file vanishing between two system calls)
//   not-observable  it changes only what nothing outside sees: an error's `cause` object, a
//                   rewrite of an unchanged file
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KINDS = ['equivalent', 'unreachable', 'not-observable'];

export function readExplained(root) {
  try {
    return readFileSync(join(root, 'build/mutation/explained.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

export const identityOf = (o) => `${o.file}#${o.src}#${o.ordinal}`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
  const [file, ids, kind, ...words] = process.argv.slice(2);
  const reason = words.join(' ');
  if (!file || !ids || !KINDS.includes(kind) || !reason) {
    throw new Error(`usage: explain.mjs <src file> <id>[,<id>...] <${KINDS.join('|')}> <reason>`);
  }
  const last = new Map();
  for (const line of readFileSync(join(root, 'reports/mutation/outcomes.jsonl'), 'utf8').split('\n').filter(Boolean)) {
    const o = JSON.parse(line);
    if (o.file === file) last.set(o.mutant, o);
  }
  const entries = new Map(readExplained(root).map((e) => [identityOf(e), e]));
  for (const id of ids.split(',')) {
    const o = last.get(id);
    if (!o) throw new Error(`${file} #${id}: no outcome in reports/mutation/outcomes.jsonl`);
    if (o.status === 'killed') throw new Error(`${file} #${id} was killed (by ${o.killedBy}): nothing to explain`);
    entries.set(identityOf(o), { file, src: o.src, ordinal: o.ordinal, mutant: id, kind, reason });
  }
  const sorted = [...entries.values()].sort((a, b) => a.file.localeCompare(b.file) || a.ordinal - b.ordinal);
  writeFileSync(join(root, 'build/mutation/explained.jsonl'), sorted.map((e) => `${JSON.stringify(e)}\n`).join(''));
}
