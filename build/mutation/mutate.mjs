// npm run mutate [group|src file...]: the mutation pass over the safety core (not in CI: it takes hours).
// One StrykerJS run (build/mutation/stryker.config.json: command runner, mutant schemata,
// concurrency 2, nice 19) over every group's files, testing the mutants of the asked groups (all
// by default; run.sh passes over the others), in a sandbox where each mutant runs only the tests
// that reach it (build/mutation/run-for-mutant.ts, after a coverage run). Outcomes are kept per mutant as they are known (reports/mutation/outcomes.jsonl): a pass
// stopped half-way resumes where it was, and one after a change re-runs only what the change can
// alter. Reports: reports/mutation/mutation.{json,html}, and the score per group with every
// undetected mutant in reports/mutation/summary.md.
import { Stryker } from '@stryker-mutator/core';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { writeSummary } from './summary.mjs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
process.chdir(root);
const { GROUPS } = JSON.parse(readFileSync(join(root, 'build/mutation/groups.json'), 'utf8'));
const expanded = (globs) => globs.flatMap((f) => (f.endsWith('*.ts') ? expand(f) : [f]));
// Arguments: group names, or source files (a pass after a change to one file: only its mutants
// are tested, and the summary covers the groups holding it).
const args = process.argv.slice(2);
const files = args.filter((a) => a.includes('/'));
const asked = args.filter((a) => !a.includes('/'));
for (const g of asked) if (!(g in GROUPS)) throw new Error(`mutate: unknown group ${g}; groups: ${Object.keys(GROUPS).join(', ')}`);
const holding = (f) => Object.keys(GROUPS).filter((g) => expanded(GROUPS[g]).includes(f));
for (const f of files) if (!holding(f).length) throw new Error(`mutate: ${f} is in no group`);
const groups = [...new Set([...asked, ...files.flatMap(holding)])];
if (!groups.length) groups.push(...Object.keys(GROUPS));
const out = join(root, 'reports/mutation');
mkdirSync(out, { recursive: true });
const config = JSON.parse(readFileSync(join(root, 'build/mutation/stryker.config.json'), 'utf8'));
delete config.$schema;

// Every group is instrumented (stable ids, one coverage run for all); the asked ones are tested.
const everyFile = Object.values(GROUPS).flat();
process.env.MUTATION_SCOPE = expanded(everyFile).join(',');
process.env.MUTATION_FOCUS = [...new Set([...files, ...expanded(asked.flatMap((g) => GROUPS[g]))])].join(' ') || expanded(groups.flatMap((g) => GROUPS[g])).join(' ');
process.env.MUTATION_REPORT_DIR = out;
await new Stryker({
  ...config,
  mutate: everyFile,
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
}).runMutationTest();

writeSummary(root, groups, GROUPS);
console.log(readFileSync(join(out, 'summary.md'), 'utf8'));

/** src/dir/*.ts -> the .ts files in src/dir. */
function expand(glob) {
  const dir = dirname(glob);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${dir}/${f}`);
}
