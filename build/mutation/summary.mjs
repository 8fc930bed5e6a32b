// reports/mutation/summary.md from Stryker's JSON report (reports/mutation/mutation.json) and our
// outcome log: per group the score, and every undetected mutant with why nothing detected it
// (survived every test reaching it, survived the tests the time budget allowed, reached by none).
// For the groups tested in the last pass: each of their mutants has an outcome recorded in it
// under its id of that pass (the last line for a file and id).
// A mutant explained as undetectable (build/mutation/explain.mjs) is listed with its reason and
// left out of the score; the raw score counts it as undetected.
// Run by mutate.mjs at the end of a pass; alone: node build/mutation/summary.mjs [group...]
import { readFileSync, writeFileSync } from 'node:fs';
import { identityOf, readExplained } from './explain.mjs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function writeSummary(root, groups, globsOf) {
  const out = join(root, 'reports/mutation');
  const report = JSON.parse(readFileSync(join(out, 'mutation.json'), 'utf8'));
  const outcomes = new Map();
  for (const line of readFileSync(join(out, 'outcomes.jsonl'), 'utf8').split('\n').filter(Boolean)) {
    const o = JSON.parse(line);
    outcomes.set(`${o.file}#${o.mutant}`, o);
  }
  const explained = new Map(readExplained(root).map((e) => [identityOf(e), e]));
  const mutants = Object.entries(report.files).flatMap(([file, f]) => f.mutants.map((m) => ({ ...m, file: file.replace(`${root}/`, '') })));
  let summary = `# Mutation pass (${new Date().toISOString()})\n\n| group | mutants | not mutated (log calls) | killed | explained | survived | no test reaches it | survived the time budget | no outcome | score | raw score |\n|---|---|---|---|---|---|---|---|---|---|---|\n`;
  let undetectedList = '';
  let explainedList = '';
  let all = [0, 0, 0];
  for (const group of groups) {
    const mine = mutants.filter((m) => inGroup(m.file, globsOf[group]));
    // Our outcome decides (Stryker only sees an exit status, and run.sh's 0 for a mutant passed
    // over); Stryker's own timeout, which leaves no outcome, counts as detected.
    const outcome = (m) => outcomes.get(`${m.file}#${m.id}`);
    const ignored = mine.filter((m) => m.status === 'Ignored');
    const tested = mine.filter((m) => m.status !== 'Ignored');
    const detected = tested.filter((m) => outcome(m)?.status === 'killed' || (!outcome(m) && m.status === 'Timeout')).length;
    const notKilled = tested.filter((m) => outcome(m) && outcome(m).status !== 'killed');
    const why = (m) => explained.get(identityOf(outcome(m)));
    const undetected = notKilled.filter((m) => !why(m));
    const errors = tested.length - detected - notKilled.length;
    all = [all[0] + detected, all[1] + undetected.length, all[2] + notKilled.length - undetected.length];
    const n = (s) => undetected.filter((m) => outcome(m).status === s).length;
    summary += `| ${group} | ${mine.length} | ${ignored.length} | ${detected} | ${notKilled.length - undetected.length} | ${n('survived')} | ${n('uncovered')} | ${n('budget')} | ${errors} | ${percent(detected, undetected.length)} | ${percent(detected, notKilled.length)} |\n`;
    for (const m of notKilled.filter(why).sort(byPlace)) {
      explainedList += `- ${m.file}:${m.location.start.line} #${m.id} ${m.mutatorName}, ${why(m).kind}: ${why(m).reason}\n`;
    }
    for (const m of undetected.sort(byPlace)) {
      const o = outcome(m);
      undetectedList += `- ${m.file}:${m.location.start.line}:${m.location.start.column} #${m.id} ${m.mutatorName} (${o.status}, ${Object.keys(o.tried).length}/${o.reaching} tests): \`${(m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 120)}\`\n`;
    }
  }
  summary += `| all | | | ${all[0]} | ${all[2]} | | | | | ${percent(all[0], all[1])} | ${percent(all[0], all[1] + all[2])} |\n`;
  writeFileSync(join(out, 'summary.md'), `${summary}\n## Undetected\n\n${undetectedList || '(none)\n'}\n## Explained (not in the score)\n\n${explainedList || '(none)\n'}`);
}

const byPlace = (a, b) => a.file.localeCompare(b.file) || a.location.start.line - b.location.start.line;
const percent = (detected, undetected) => (detected + undetected ? `${((100 * detected) / (detected + undetected)).toFixed(1)} %` : 'n/a');

function inGroup(file, globs) {
  return globs.some((g) => (g.endsWith('*.ts') ? dirname(file) === dirname(g) : file === g));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
  const { GROUPS } = JSON.parse(readFileSync(join(root, 'build/mutation/groups.json'), 'utf8'));
  const asked = process.argv.slice(2);
  writeSummary(root, asked.length ? asked : Object.keys(GROUPS), GROUPS);
  console.log(readFileSync(join(root, 'reports/mutation/summary.md'), 'utf8'));
}
