// npm run mutate [group...]: the mutation pass over the safety core (not in CI: it takes hours).
// One StrykerJS run (build/mutation/stryker.config.json: command runner, mutant schemata,
// concurrency 2, nice 19) over the asked groups' files (all by default), in a sandbox where each
// mutant runs only the tests that reach it (build/mutation/run-for-mutant.ts, after a coverage
// run). Outcomes are kept per mutant as they are known (reports/mutation/outcomes.jsonl): a pass
// stopped half-way resumes where it was, and one after a change re-runs only what the change can
// alter. Reports: reports/mutation/mutation.{json,html}, and the score per group with every
// undetected mutant in reports/mutation/summary.md.
import { Stryker } from '@stryker-mutator/core';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
process.chdir(root);
// In the order their mutants are tested.
const GROUPS = {
  pins: ['src/ns/pins.ts'],
  state: ['src/state/*.ts'],
  allocator: ['src/idmap/allocator.ts'],
  commands: ['src/commands/*.ts'],
  attachment: ['src/attachment/*.ts'],
};
const asked = process.argv.slice(2);
for (const g of asked) if (!(g in GROUPS)) throw new Error(`mutate: unknown group ${g}; groups: ${Object.keys(GROUPS).join(', ')}`);
const groups = asked.length ? asked : Object.keys(GROUPS);
const out = join(root, 'reports/mutation');
mkdirSync(out, { recursive: true });
const config = JSON.parse(readFileSync(join(root, 'build/mutation/stryker.config.json'), 'utf8'));
delete config.$schema;

const files = groups.flatMap((g) => GROUPS[g]);
process.env.MUTATION_SCOPE = files.flatMap((f) => (f.endsWith('*.ts') ? expand(f) : [f])).join(',');
process.env.MUTATION_REPORT_DIR = out;
const results = await new Stryker({
  ...config,
  mutate: files,
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
}).runMutationTest();

// Our outcome per mutant (which test killed it, or why nothing did), the last one recorded.
const outcomes = new Map();
for (const line of readFileSync(join(out, 'outcomes.jsonl'), 'utf8').split('\n').filter(Boolean)) {
  const o = JSON.parse(line);
  outcomes.set(`${o.file}#${o.mutant}`, o);
}
const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
let summary = `# Mutation pass (${new Date().toISOString()})\n\n| group | mutants | killed | survived | no test reaches it | survived the time budget | errors | score |\n|---|---|---|---|---|---|---|---|\n`;
let survivors = '';
for (const group of groups) {
  const mine = results.filter((r) => inGroup(r.fileName.replace(`${root}/`, ''), GROUPS[group]));
  const why = (r) => outcomes.get(`${r.fileName.replace(`${root}/`, '')}#${r.id}`)?.status;
  const undetected = mine.filter((r) => UNDETECTED.has(r.status));
  const detected = mine.filter((r) => DETECTED.has(r.status)).length;
  const errors = mine.filter((r) => !DETECTED.has(r.status) && !UNDETECTED.has(r.status)).length;
  const score = detected + undetected.length ? ((100 * detected) / (detected + undetected.length)).toFixed(1) : 'n/a';
  const n = (s) => undetected.filter((r) => why(r) === s).length;
  summary += `| ${group} | ${mine.length} | ${detected} | ${n('survived')} | ${n('uncovered')} | ${n('budget')} | ${errors} | ${score} % |\n`;
  for (const r of undetected.sort((a, b) => a.fileName.localeCompare(b.fileName) || a.location.start.line - b.location.start.line)) {
    const o = outcomes.get(`${r.fileName.replace(`${root}/`, '')}#${r.id}`);
    const note = o ? `${o.status}, ${Object.keys(o.tried).length}/${o.reaching} tests` : 'no outcome';
    survivors += `- ${r.fileName.replace(`${root}/`, '')}:${r.location.start.line}:${r.location.start.column + 1} #${r.id} ${r.mutatorName} (${note}): \`${(r.replacement ?? '').replace(/\s+/g, ' ').slice(0, 120)}\`\n`;
  }
}
writeFileSync(join(out, 'summary.md'), `${summary}\n## Undetected\n\n${survivors || '(none)\n'}`);
console.log(readFileSync(join(out, 'summary.md'), 'utf8'));

/** src/dir/*.ts -> the .ts files in src/dir. */
function expand(glob) {
  const dir = dirname(glob);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${dir}/${f}`);
}

function inGroup(file, globs) {
  return globs.some((g) => (g.endsWith('*.ts') ? dirname(file) === dirname(g) : file === g));
}
