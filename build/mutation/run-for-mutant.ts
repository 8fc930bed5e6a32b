// Stryker's command runner calls this in its sandbox (cwd): once without a mutant (the dry run),
// then once per mutant with its id in __STRYKER_ACTIVE_MUTANT__. The sandbox holds Stryker's
// instrumented sources, every mutant compiled in and switched on by that variable alone, and a
// dist/ built once from them (build-sandbox.mjs).
//
// The dry run is the coverage run (coverage.ts): mutant id -> the tests that reach it.
// A mutant then runs only those tests, up to eight of a file per process, its module's own test
// files first, then the cheapest expected kill (time over kills of its file's other mutants), until
// one fails (killed, exit 1) or they are used up (survived, exit 0) - or the time budget is
// (MUTATION_BUDGET_S, default 120 s of their coverage-run time: recorded as "budget", a survivor
// that slower tests might still kill). A test that fails under a mutant kills it only if it
// passes alone without one (checked once per test): a test that needs its file's earlier tests
// cannot kill anything. Outcomes are reused (outcomes.ts): a kill while its test is unchanged; a
// survivor is run again only against tests it has not met yet.
import { mkdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { loadCoverage } from './coverage';
import { alreadyTried, killHolds, killsIn, knownStandalone, lastOutcome, type Outcome, recordOutcome, recordStandalone } from './outcomes';
import { fileHash, fileOf, runTests, sha, timeoutFor, WHOLE_FILE } from './test-process';

const reportDir = process.env.MUTATION_REPORT_DIR ?? 'reports/mutation';
const budgetMs = Number(process.env.MUTATION_BUDGET_S ?? 120) * 1000;
/** The same budget in wall time: a loaded machine runs everything slower than the coverage run did. */
const wallBudgetMs = 2 * budgetMs;
/** What starting a test process costs, about (Node, tsx, the test file's imports). */
const PROCESS_MS = 1500;
/** Tests of one file per process, at most (fewer Node starts, still a small blast radius). */
const BATCH = 8;
/**
 * MUTATION_FIRST='part|part...': tests whose id (file > name) holds one of these go before all
 * others. For a re-run after a survivor was judged by hand (try-tests.ts found the test that
 * kills it, which the budget never reached): the pass then records that kill itself.
 */
const FIRST = (process.env.MUTATION_FIRST ?? '').split('|').filter(Boolean);
const hinted = (t: string) => FIRST.some((part) => t.includes(part));

/**
 * The mutant's file and an identity that outlives Stryker's numbering: ids count across all
 * mutated files, so a change in one file renumbers every later one. Within its file, a mutant
 * is its place (id minus the file's first id) in the instrumented text with ids made relative
 * the same way, which stays the same while the file's source does.
 */
function identify(mutant: string): { file: string; src: string; ordinal: number } | undefined {
  const scope = (process.env.MUTATION_SCOPE ?? '').split(',').filter(Boolean);
  const needle = `stryMutAct_9fa48("${mutant}")`;
  for (const file of scope) {
    const text = readFileSync(file, 'utf8');
    if (!text.includes(needle)) continue;
    const ids = [...text.matchAll(/stryMutAct_9fa48\("(\d+)"\)/g)].map((m) => Number(m[1]));
    const first = Math.min(...ids);
    const relative = text.replace(/(stryMutAct_9fa48\(|stryCov_9fa48\()([^)]*)\)/g, (_, fn: string, args: string) => `${fn}${args.replace(/"(\d+)"/g, (_m, n: string) => `"${Number(n) - first}"`)})`);
    return { file, src: sha(relative), ordinal: Number(mutant) - first };
  }
  return undefined;
}

/** Up to BATCH tests of one file per process, in the order given; a whole file alone; a hinted test (MUTATION_FIRST) only with hinted ones. */
function batches(order: string[]): string[][] {
  const left = [...order];
  const out: string[][] = [];
  while (left.length) {
    const first = left.shift()!;
    const batch = [first];
    if (!first.endsWith(WHOLE_FILE)) {
      for (let i = 0; i < left.length && batch.length < BATCH; ) {
        if (fileOf(left[i]!) === fileOf(first) && !left[i]!.endsWith(WHOLE_FILE) && hinted(left[i]!) === hinted(first)) batch.push(...left.splice(i, 1));
        else i++;
      }
    }
    out.push(batch);
  }
  return out;
}

function main(): number {
  mkdirSync(reportDir, { recursive: true });
  const mutant = process.env.__STRYKER_ACTIVE_MUTANT__;
  const { coverage: cov } = loadCoverage(reportDir);
  if (mutant === undefined) {
    const reached = Object.keys(cov.mutants).length;
    console.error(`coverage: ${Object.keys(cov.tests).length} tests, ${reached} mutants reached`);
    return reached > 0 ? 0 : 1;
  }
  const id = identify(mutant);
  if (!id) {
    console.error(`run-for-mutant: mutant ${mutant} is in none of MUTATION_SCOPE (cwd ${process.cwd()})`);
    return 2;
  }
  const { file, src, ordinal } = id;
  const before = lastOutcome(reportDir, file, src, ordinal);
  if (before && killHolds(before)) {
    // Recorded again under this pass's id, which the summary looks up.
    recordOutcome(reportDir, { ...before, mutant, ms: 0 });
    return 1;
  }

  const started = Date.now();
  const standalone = knownStandalone(reportDir);
  const expected = (t: string) => cov.tests[t]?.ms ?? 5000;
  const reaching = (cov.mutants[mutant] ?? []).filter((t) => cov.tests[t]?.ok !== false && standalone.get(t) !== false);
  // Not yet met: cheapest expected kill first - a test's time (and a process start) over the
  // number of this file's other mutants it killed (a mutant is mostly caught by what caught its
  // neighbours) - whole files (hooks, module load) last.
  // The module's own test files (src/state/names.ts: test/**/names*.test.ts) go first: a
  // mutant of a constant every module loads is reached by hundreds of tests, and at a small
  // budget the pass ran out among other files' tests before reaching the ones that check it
  // (10 of names.ts's 15 budget mutants die to its own tests).
  const kills = killsIn(reportDir, file);
  const own = (t: string) => basename(fileOf(t)).startsWith(basename(file, '.ts'));
  const cost = (t: string) => (expected(t) + PROCESS_MS) / ((kills.get(t) ?? 0) + 1);
  const order = reaching
    .filter((t) => !alreadyTried(before, t))
    .sort((a, b) => Number(hinted(b)) - Number(hinted(a)) || Number(a.endsWith(WHOLE_FILE)) - Number(b.endsWith(WHOLE_FILE)) || Number(own(b)) - Number(own(a)) || cost(a) - cost(b));
  const outcome: Outcome = { mutant, file, src, ordinal, status: reaching.length ? 'survived' : 'uncovered', tried: {}, reaching: reaching.length, ms: 0 };
  for (const t of reaching) if (alreadyTried(before, t)) outcome.tried[t] = before!.tried[t]!;
  let spent = 0;
  const queue = batches(order);
  for (let batch = queue.shift(); batch; batch = queue.shift()) {
    const cost = batch.reduce((sum, t) => sum + expected(t), 0);
    if (spent > 0 && (spent + cost > budgetMs || Date.now() - started > wallBudgetMs)) {
      outcome.status = 'budget';
      break;
    }
    spent += cost;
    const r = runTests(batch, { mutant, timeoutMs: timeoutFor(cost) });
    // --bail: the tests after a failure did not run.
    const ran = r.failed ? batch.slice(0, batch.indexOf(r.failed) + 1) : batch;
    for (const t of ran) outcome.tried[t] = fileHash(fileOf(t));
    if (r.ok) continue;
    // The test that failed (or, a hang or a failing hook, the batch's first) must pass alone.
    const culprit = r.failed ?? batch[0]!;
    let alone = standalone.get(culprit);
    if (alone === undefined) {
      alone = runTests([culprit], { timeoutMs: timeoutFor(expected(culprit)) }).ok;
      recordStandalone(reportDir, culprit, alone);
      standalone.set(culprit, alone);
    }
    if (alone) {
      Object.assign(outcome, { status: 'killed', killedBy: culprit, hung: r.hung || undefined });
      break;
    }
    // Not a kill, and not a test to count on: the rest of the batch goes next.
    delete outcome.tried[culprit];
    const rest = batch.slice(batch.indexOf(culprit) + 1);
    if (rest.length) queue.unshift(rest);
  }
  outcome.ms = Date.now() - started;
  recordOutcome(reportDir, outcome);
  return outcome.status === 'killed' ? 1 : 0;
}

process.exit(main());
