// Stryker's command runner calls this in its sandbox (cwd): once without a mutant (the dry run),
// then once per mutant with its id in __STRYKER_ACTIVE_MUTANT__. The sandbox holds Stryker's
// instrumented sources, every mutant compiled in and switched on by that variable alone, and a
// dist/ built once from them (build-sandbox.mjs).
//
// The dry run is the coverage run: every test file once, in its own process, each test's reach
// recorded (uvu-one-test.mjs in the test process, plugin-coverage.ts in each plugin process):
// mutant id -> the tests that reach it. Cached in the report dir under a hash of the sandbox's
// sources and tests, so a resumed pass skips it.
// A mutant then runs only the tests that reach it, one test per process (its file's hooks
// included), fastest first, until one fails (killed, exit 1) or they are used up (survived,
// exit 0) - or the time budget is (MUTATION_BUDGET_S, default 120 s of their coverage-run time:
// recorded as "budget", a survivor that slower tests might still kill). A test that fails under a
// mutant kills it only if it passes alone without one (checked once per test): a test that
// needs its file's earlier tests cannot kill anything.
// Each outcome is appended to <report dir>/outcomes.jsonl as it is known and reused by the next
// pass while it holds: a pass stopped half-way resumes where it was.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const reportDir = process.env.MUTATION_REPORT_DIR ?? 'reports/mutation';
const coverageDir = join(process.cwd(), '.mutation-coverage');
const resultsDir = join(process.cwd(), '.mutation-results');
const budgetMs = Number(process.env.MUTATION_BUDGET_S ?? 120) * 1000;
const verbose = !!process.env.MUTATION_VERBOSE;
/** Test dirs the coverage run leaves out: other tools' runs (runc, podman, containerd) and the SEA build. */
const SKIPPED_DIRS = ['test/runtimes', 'test/artifacts', 'test/layers', 'test/bench'];
/** A whole test file: the mutant is reached only by its hooks or at module load. */
const WHOLE_FILE = ' > *';

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex').slice(0, 16);

function filesUnder(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...filesUnder(p, suffix));
    else if (e.name.endsWith(suffix)) out.push(p);
  }
  return out.sort();
}

interface Coverage {
  /** mutant id -> test ids ("<file> > <name>", or "<file> > *") */
  mutants: Record<string, string[]>;
  /** test id -> its coverage-run time and result */
  tests: Record<string, { ms: number; ok: boolean }>;
}

/** What the coverage depends on: the sandbox's sources, entry point, tests and this tooling. */
function coverageKey(): string {
  const files = ['src', 'plugins', 'test', 'build/mutation'].flatMap((d) => filesUnder(d, ''));
  return sha(files.map((f) => `${f}:${sha(readFileSync(f))}`).join('\n'));
}

interface TestRun {
  ok: boolean;
  ms: number;
  hung: boolean;
  /** the first test that failed, when one did (not when a hook did, or the run hung) */
  failed?: string;
}

/** One test file (or some of its tests, `only`), in its own private host (test/helpers/private-host.sh). */
function runTests(file: string, opts: { only?: string[]; mutant?: string; coverage?: boolean; timeoutMs: number }): TestRun {
  const started = Date.now();
  const slash = file.lastIndexOf('/');
  const pattern = `^${file.slice(slash + 1).replace(/\./g, '\\.')}$`;
  const results = join(resultsDir, `${process.pid}-${started}.jsonl`);
  mkdirSync(resultsDir, { recursive: true });
  const env: Record<string, string | undefined> = { ...process.env, USERNS_NETNS_TEST_PLUGIN: 'script', MUTATION_RESULTS: results };
  delete env.__STRYKER_ACTIVE_MUTANT__;
  if (opts.mutant) env.__STRYKER_ACTIVE_MUTANT__ = opts.mutant;
  if (opts.only) env.MUTATION_ONLY_TESTS = JSON.stringify(opts.only);
  if (opts.coverage) env.MUTATION_COVERAGE_DIR = coverageDir;
  const uvu = ['node', '--import', 'tsx', '--import', './build/mutation/uvu-register.mjs', 'node_modules/uvu/bin.js', file.slice(0, slash), pattern, '--bail', '--no-color'];
  const r = spawnSync('bash', ['test/helpers/private-host.sh', ...uvu], {
    env,
    timeout: opts.timeoutMs,
    killSignal: 'SIGKILL',
    stdio: ['ignore', verbose ? 'inherit' : 'ignore', verbose ? 'inherit' : 'ignore'],
  });
  let failed: string | undefined;
  try {
    for (const line of readFileSync(results, 'utf8').split('\n').filter(Boolean)) {
      const o = JSON.parse(line) as { id: string; ok: boolean };
      if (!o.ok) failed ??= o.id;
    }
    rmSync(results);
  } catch {}
  return { ok: r.status === 0, ms: Date.now() - started, hung: r.signal === 'SIGKILL', failed };
}

/** The coverage run: every test file once, then the per-process records folded into one map. */
function measureCoverage(): Coverage {
  rmSync(coverageDir, { recursive: true, force: true });
  mkdirSync(coverageDir, { recursive: true });
  // MUTATION_TESTS=<regex>: only the matching test files (a quick look at one module's mutants).
  const only = new RegExp(process.env.MUTATION_TESTS ?? '');
  const testFiles = filesUnder('test', '.test.ts').filter((f) => !SKIPPED_DIRS.some((d) => f.startsWith(`${d}/`)) && only.test(f));
  for (const file of testFiles) {
    const r = runTests(file, { coverage: true, timeoutMs: 20 * 60_000 });
    console.error(`coverage: ${file} ${r.ok ? 'passed' : 'FAILED'} in ${(r.ms / 1000).toFixed(1)} s`);
  }
  const mutants = new Map<string, Set<string>>();
  const reach = (id: string, test: string) => {
    let s = mutants.get(id);
    if (!s) mutants.set(id, (s = new Set()));
    s.add(test);
  };
  const tests: Coverage['tests'] = {};
  for (const name of readdirSync(coverageDir)) {
    const text = readFileSync(join(coverageDir, name), 'utf8');
    if (name.startsWith('inproc-')) {
      for (const [test, ids] of Object.entries(JSON.parse(text) as Record<string, string[]>)) for (const id of ids) reach(id, test);
    } else if (name.startsWith('plugin-')) {
      const { test, ids } = JSON.parse(text) as { test: string; ids: string[] };
      for (const id of ids) reach(id, test);
    } else if (name === 'durations.jsonl') {
      for (const line of text.split('\n').filter(Boolean)) {
        const { id, ms, ok } = JSON.parse(line) as { id: string; ms: number; ok: boolean };
        tests[id] = { ms, ok: ok && (tests[id]?.ok ?? true) };
      }
    }
  }
  // A whole file costs the sum of its tests.
  for (const [id, t] of Object.entries(tests)) {
    const whole = `${id.slice(0, id.indexOf(' > '))}${WHOLE_FILE}`;
    const w = (tests[whole] ??= { ms: 5000, ok: true });
    w.ms += t.ms;
  }
  rmSync(coverageDir, { recursive: true, force: true });
  return { mutants: Object.fromEntries([...mutants].map(([id, s]) => [id, [...s].sort()])), tests };
}

function loadOrMeasureCoverage(): Coverage {
  const file = join(reportDir, `coverage-${coverageKey()}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Coverage;
  } catch {
    const cov = measureCoverage();
    writeFileSync(file, JSON.stringify(cov));
    return cov;
  }
}

/** Mutant id -> the source file it mutates: each mutant is a stryMutAct_9fa48("<id>") call in its file. */
function fileOfMutant(mutant: string): string | undefined {
  const scope = (process.env.MUTATION_SCOPE ?? '').split(',').filter(Boolean);
  const needle = `stryMutAct_9fa48("${mutant}")`;
  return scope.find((f) => readFileSync(f, 'utf8').includes(needle));
}

/** What standaloneOk found so far, for test files as they are now: test id -> passes alone. */
function knownStandalone(): Map<string, boolean> {
  const known = new Map<string, boolean>();
  const hashes = new Map<string, string>();
  const hashOf = (file: string) => {
    let h = hashes.get(file);
    if (h === undefined) hashes.set(file, (h = sha(readFileSync(file))));
    return h;
  };
  try {
    for (const line of readFileSync(join(reportDir, 'standalone.jsonl'), 'utf8').split('\n').filter(Boolean)) {
      const o = JSON.parse(line) as { test: string; fileHash: string; ok: boolean };
      if (o.fileHash === hashOf(fileOf(o.test))) known.set(o.test, o.ok);
    }
  } catch {}
  return known;
}

/** Tests that fail alone, without a mutant (they lean on an earlier test of their file): never a kill. */
function standaloneOk(test: string, timeoutMs: number): boolean {
  const log = join(reportDir, 'standalone.jsonl');
  const fileHash = sha(readFileSync(fileOf(test)));
  const known = knownStandalone().get(test);
  if (known !== undefined) return known;
  const ok = run([test], undefined, timeoutMs).ok;
  appendFileSync(log, `${JSON.stringify({ test, fileHash, ok })}\n`);
  return ok;
}

/** Tests of one file (a whole file: "<file> > *" alone). */
function run(tests: string[], mutant: string | undefined, timeoutMs: number): TestRun {
  const file = fileOf(tests[0]!);
  return runTests(file, { only: tests[0]!.endsWith(WHOLE_FILE) ? undefined : tests, mutant, timeoutMs });
}

const fileOf = (test: string) => test.slice(0, test.indexOf(' > '));

/** Up to BATCH tests of one file per process (fewer Node starts); a whole file alone. */
const BATCH = 8;
function batches(order: string[]): string[][] {
  const left = [...order];
  const out: string[][] = [];
  while (left.length) {
    const first = left.shift()!;
    const batch = [first];
    if (!first.endsWith(WHOLE_FILE)) {
      for (let i = 0; i < left.length && batch.length < BATCH; ) {
        if (fileOf(left[i]!) === fileOf(first) && !left[i]!.endsWith(WHOLE_FILE)) batch.push(...left.splice(i, 1));
        else i++;
      }
    }
    out.push(batch);
  }
  return out;
}

interface Outcome {
  mutant: string;
  file: string;
  /** the instrumented file: the same source (and mutant numbering) gives the same hash */
  src: string;
  status: 'killed' | 'survived' | 'budget' | 'uncovered';
  coverageKey: string;
  killedBy?: string;
  killedByHash?: string;
  hung?: boolean;
  /** tests run, of those reaching it */
  ran: number;
  reaching: number;
  ms: number;
}

/** An earlier outcome that still holds: a kill while its test file is unchanged, anything else while the coverage is. */
function earlierOutcome(mutant: string, file: string, src: string, key: string): Outcome | undefined {
  let last: Outcome | undefined;
  try {
    for (const line of readFileSync(join(reportDir, 'outcomes.jsonl'), 'utf8').split('\n').filter(Boolean)) {
      const o = JSON.parse(line) as Outcome;
      if (o.mutant === mutant && o.file === file && o.src === src) last = o;
    }
  } catch {}
  if (!last) return undefined;
  if (last.killedBy) {
    const testFile = last.killedBy.slice(0, last.killedBy.indexOf(' > '));
    try {
      return sha(readFileSync(testFile)) === last.killedByHash ? last : undefined;
    } catch {
      return undefined;
    }
  }
  return last.coverageKey === key ? last : undefined;
}

function main(): number {
  mkdirSync(reportDir, { recursive: true });
  const mutant = process.env.__STRYKER_ACTIVE_MUTANT__;
  const key = coverageKey();
  const cov = loadOrMeasureCoverage();
  if (mutant === undefined) {
    const reached = Object.keys(cov.mutants).length;
    console.error(`coverage: ${Object.keys(cov.tests).length} tests, ${reached} mutants reached`);
    return reached > 0 ? 0 : 1;
  }
  const file = fileOfMutant(mutant);
  if (!file) {
    console.error(`run-for-mutant: mutant ${mutant} is in none of MUTATION_SCOPE (cwd ${process.cwd()})`);
    return 2;
  }
  const src = sha(readFileSync(file));
  const before = earlierOutcome(mutant, file, src, key);
  if (before) return before.status === 'killed' ? 1 : 0;

  const started = Date.now();
  const standalone = knownStandalone();
  const reaching = (cov.mutants[mutant] ?? []).filter((t) => cov.tests[t]?.ok !== false && standalone.get(t) !== false);
  // Single tests fastest first; whole files (hooks, module load) after them.
  const order = [...reaching].sort((a, b) => Number(a.endsWith(WHOLE_FILE)) - Number(b.endsWith(WHOLE_FILE)) || (cov.tests[a]?.ms ?? 5000) - (cov.tests[b]?.ms ?? 5000));
  const outcome: Outcome = { mutant, file, src, status: reaching.length ? 'survived' : 'uncovered', coverageKey: key, ran: 0, reaching: reaching.length, ms: 0 };
  let spent = 0;
  const queue = batches(order);
  for (let batch = queue.shift(); batch; batch = queue.shift()) {
    const expected = batch.reduce((sum, t) => sum + (cov.tests[t]?.ms ?? 5000), 0);
    if (outcome.ran > 0 && spent + expected > budgetMs) {
      outcome.status = 'budget';
      break;
    }
    spent += expected;
    outcome.ran += batch.length;
    // A batch that takes several times its usual time under a mutant is taken as hung by it (a
    // lock never released, a loop that never ends): detected, as Stryker's own timeout counts it.
    const timeoutMs = Math.max(30_000, 4 * expected + 20_000);
    const r = run(batch, mutant, timeoutMs);
    if (r.ok) continue;
    // The test that failed (or, a hang or a failing hook, the batch's first) must pass alone.
    const culprit = r.failed ?? batch[0]!;
    if (!standaloneOk(culprit, Math.max(30_000, 4 * (cov.tests[culprit]?.ms ?? 5000) + 20_000))) {
      // Not a kill: the rest of the batch, which --bail did not run, goes next.
      const rest = batch.slice(batch.indexOf(culprit) + 1);
      if (rest.length) queue.unshift(rest);
      continue;
    }
    Object.assign(outcome, { status: 'killed', killedBy: culprit, killedByHash: sha(readFileSync(fileOf(culprit))), hung: r.hung || undefined });
    break;
  }
  outcome.ms = Date.now() - started;
  appendFileSync(join(reportDir, 'outcomes.jsonl'), `${JSON.stringify(outcome)}\n`);
  return outcome.status === 'killed' ? 1 : 0;
}

process.exit(main());
