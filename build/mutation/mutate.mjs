// npm run mutate [group...]: the mutation pass over the safety core (not in CI: it takes hours).
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
const asked = process.argv.slice(2);
for (const g of asked) if (!(g in GROUPS)) throw new Error(`mutate: unknown group ${g}; groups: ${Object.keys(GROUPS).join(', ')}`);
const groups = asked.length ? asked : Object.keys(GROUPS);
const out = join(root, 'reports/mutation');
mkdirSync(out, { recursive: true });
const config = JSON.parse(readFileSync(join(root, 'build/mutation/stryker.config.json'), 'utf8'));
delete config.$schema;

// Every group is instrumented (stable ids, one coverage run for all); the asked ones are tested.
const everyFile = Object.values(GROUPS).flat();
const expanded = (globs) => globs.flatMap((f) => (f.endsWith('*.ts') ? expand(f) : [f]));
process.env.MUTATION_SCOPE = expanded(everyFile).join(',');
process.env.MUTATION_FOCUS = expanded(groups.flatMap((g) => GROUPS[g])).join(' ');
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
