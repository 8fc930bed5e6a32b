// npm run mutate [--force] [group...]: the mutation pass over the safety core (not in CI: it takes hours).
// StrykerJS (build/stryker.config.json: command runner, mutant schemata, concurrency 1, nice 19) runs
// once per module group below, in this order, each group with its own incremental file: an
// interrupted pass loses only the group it was in, and a new pass reuses every result whose code
// and tests did not change. Per mutant only the tests of the mutated file run
// (build/mutate-run-for-mutant.ts). Reports: reports/mutation/<group>.{json,html}, the per-mutant
// timings in reports/mutation/timings.jsonl and the score and survivors in reports/mutation/summary.md.
import { Stryker } from '@stryker-mutator/core';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const GROUPS = {
  allocator: ['src/idmap/allocator.ts'],
  pins: ['src/ns/pins.ts'],
  state: ['src/state/*.ts'],
  attachment: ['src/attachment/*.ts'],
  commands: ['src/commands/*.ts'],
};
// --force: every mutant is handed to the runner again (Stryker's command runner does not know
// which test files a mutant ran, so its incremental file would keep a survivor after a new test
// was added); the runner still reuses every outcome that holds (build/mutate-run-for-mutant.ts).
const force = process.argv.includes('--force');
const asked = process.argv.slice(2).filter((a) => a !== '--force');
for (const g of asked) if (!(g in GROUPS)) throw new Error(`mutate: unknown group ${g}; groups: ${Object.keys(GROUPS).join(', ')}`);
const out = join(root, 'reports/mutation');
mkdirSync(out, { recursive: true });
const base = JSON.parse(readFileSync(join(root, 'build/stryker.config.json'), 'utf8'));
delete base.$schema;

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
let summary = `# Mutation pass (${new Date().toISOString()})\n\n| group | mutants | killed | timeout | survived | errors | score |\n|---|---|---|---|---|---|---|\n`;
let survivors = '';
for (const group of asked.length ? asked : Object.keys(GROUPS)) {
  const files = GROUPS[group];
  // The runner's dry run covers every test file of this group's sources.
  process.env.MUTATION_SCOPE = files.flatMap((f) => (f.endsWith('*.ts') ? expand(f) : [f])).join(',');
  process.env.MUTATION_TIMINGS = join(out, 'timings.jsonl');
  appendFileSync(process.env.MUTATION_TIMINGS, JSON.stringify({ group, started: new Date().toISOString() }) + '\n');
  const results = await new Stryker({
    ...base,
    mutate: files,
    incrementalFile: `reports/mutation/${group}.incremental.json`,
    force,
    jsonReporter: { fileName: `reports/mutation/${group}.json` },
    htmlReporter: { fileName: `reports/mutation/${group}.html` },
  }).runMutationTest();
  const count = (s) => results.filter((r) => r.status === s).length;
  const detected = results.filter((r) => DETECTED.has(r.status)).length;
  const undetected = results.filter((r) => UNDETECTED.has(r.status)).length;
  const score = detected + undetected ? ((100 * detected) / (detected + undetected)).toFixed(1) : 'n/a';
  summary += `| ${group} | ${results.length} | ${count('Killed')} | ${count('Timeout')} | ${count('Survived') + count('NoCoverage')} | ${count('RuntimeError') + count('CompileError')} | ${score} % |\n`;
  for (const r of results.filter((x) => UNDETECTED.has(x.status))) {
    survivors += `- ${r.fileName.replace(root + '/', '')}:${r.location.start.line}:${r.location.start.column + 1} #${r.id} ${r.mutatorName}: \`${(r.replacement ?? '').replace(/\s+/g, ' ').slice(0, 120)}\`\n`;
  }
  writeFileSync(join(out, 'summary.md'), `${summary}\n## Survivors\n\n${survivors || '(none)\n'}`);
}
console.log(readFileSync(join(out, 'summary.md'), 'utf8'));

/** src/dir/*.ts -> the .ts files in src/dir. */
function expand(glob) {
  const dir = dirname(glob);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${dir}/${f}`);
}
