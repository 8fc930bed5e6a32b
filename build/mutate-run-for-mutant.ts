// Stryker's command runner calls this once per mutant, in its sandbox (cwd), with the mutant's id
// in __STRYKER_ACTIVE_MUTANT__ (and once without, the dry run). The sandbox holds Stryker's
// instrumented sources, every mutant compiled in, and a dist/ built once from them: a mutant is
// switched on by the variable alone, so here we only pick the tests that can see it. The id is
// looked up in the instrumented sources (each mutant is a stryMutAct_9fa48("<id>") call in the file
// it mutates), the file's tests come from TESTS_FOR below, and they run one file at a time with
// uvu's bail: the first failing file kills the mutant (exit 1); all passing means it survived.
// Each outcome is appended to MUTATION_TIMINGS as it is known, and reused by the next pass while
// it still holds (earlierOutcome): a pass stopped half-way resumes where it was.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, readdirSync } from 'node:fs';

/**
 * Test files, fastest and most direct first, that exercise each mutated source file. A file
 * missing here is a mistake in this table, not "no tests": the runner refuses it.
 */
export const TESTS_FOR: Record<string, string[]> = {
  // test/idmap/allocator-e2e.test.ts (~90 s) also runs the allocator, through the plugin: too slow
  // for every mutant; the unit tests below are what this pass measures.
  'src/idmap/allocator.ts': ['test/idmap/allocator-edges.test.ts', 'test/idmap/allocator.test.ts'],
  'src/ns/pins.ts': ['test/ns/pins.test.ts', 'test/ns/create.test.ts', 'test/ns/lifecycle.test.ts'],
  'src/state/atomic-file.ts': ['test/state/atomic-file.test.ts', 'test/state/record-store.test.ts', 'test/idmap/allocator.test.ts'],
  'src/state/boot-id.ts': ['test/state/record-store.test.ts'],
  'src/state/lock.ts': ['test/state/lock.test.ts', 'test/idmap/allocator.test.ts'],
  'src/state/names.ts': ['test/state/names.test.ts', 'test/state/record-store.test.ts', 'test/idmap/allocator.test.ts'],
  'src/state/record-store.ts': ['test/state/record-store.test.ts'],
  'src/state/syscalls.ts': ['test/state/atomic-file.test.ts', 'test/state/lock.test.ts'],
};
// The verbs and the attachment steps are seen through the plugin: the e2e tests, fastest first.
const VERB_TESTS = [
  'test/e2e/add-del-check.test.ts',
  'test/e2e/crash.test.ts',
  'test/e2e/adopt-safety.test.ts',
  'test/e2e/gc-status-lock.test.ts',
  'test/e2e/shared-netns.test.ts',
  'test/e2e/del-during-add.test.ts',
  'test/e2e/residue-drift.test.ts',
  'test/e2e/check-swapped-netns.test.ts',
  'test/e2e/adopt-userns-owned.test.ts',
  'test/e2e/sysctls.test.ts',
  'test/e2e/disk-full.test.ts',
  'test/e2e/shared-data-dir.test.ts',
];
for (const dir of ['src/attachment', 'src/commands']) {
  for (const f of readdirSync(dir)) if (f.endsWith('.ts')) TESTS_FOR[`${dir}/${f}`] = VERB_TESTS;
}

/** Mutant id -> the source file it mutates, from the instrumented files in the sandbox. */
function mutantFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const file of Object.keys(TESTS_FOR)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // not in this checkout (a file moved by a refactoring): its mutants are not ours
    }
    for (const m of text.matchAll(/stryMutAct_9fa48\("(\d+)"\)/g)) files.set(m[1]!, file);
  }
  return files;
}

/**
 * A test file that takes this long under a mutant is taken as hung by it (a lock never released,
 * a loop that never ends): the mutant is detected, as Stryker's own timeout would count it, but
 * without waiting the minutes that timeout allows the whole run. Several times a file's normal time.
 */
const hungAfterMs = (file: string) => (file.startsWith('test/e2e/') ? 300_000 : 30_000);

function runTestFile(file: string): { ok: boolean; ms: number; hung: boolean } {
  const started = Date.now();
  const slash = file.lastIndexOf('/');
  const pattern = `^${file.slice(slash + 1).replace(/\./g, '\\.')}$`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', file.slice(0, slash), pattern, '--bail', '--no-color'], {
    // The e2e tests run the Node-script bundle: the build in the sandbox makes no SEA.
    env: { ...process.env, USERNS_NETNS_TEST_PLUGIN: 'script' },
    timeout: hungAfterMs(file),
    killSignal: 'SIGKILL',
    stdio: ['ignore', process.env.MUTATION_VERBOSE ? 'inherit' : 'ignore', process.env.MUTATION_VERBOSE ? 'inherit' : 'ignore'],
  });
  return { ok: r.status === 0, ms: Date.now() - started, hung: r.signal === 'SIGKILL' };
}

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex').slice(0, 16);

/** One line of MUTATION_TIMINGS per mutant run: the outcome, what it was measured against, the cost. */
interface Outcome {
  mutant: string;
  file?: string;
  /** The instrumented file: the same source (and mutant numbering) gives the same hash. */
  src?: string;
  /** The test files the mutant ran against, by content. */
  tests?: string;
  killedBy?: string;
  killedByHash?: string;
  hung?: boolean;
  reused?: boolean;
  ms: number;
}

/**
 * The outcome of an earlier run of this very mutant that still holds, as Stryker's incremental
 * mode decides (a kill stands while the killing test file is unchanged; a survivor while none of
 * its test files changed) - but kept per mutant as it finishes, so an interrupted pass resumes
 * too (Stryker writes its incremental file only at the end of a whole run).
 */
function earlierOutcome(log: string, mutant: string, file: string, src: string, tests: string[], testsHash: string): Outcome | undefined {
  let text: string;
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    return undefined;
  }
  let last: Outcome | undefined;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const o = JSON.parse(line) as Outcome;
    if (o.mutant === mutant && o.file === file && o.src === src) last = o;
  }
  if (!last) return undefined;
  if (last.killedBy) return tests.includes(last.killedBy) && sha(readFileSync(last.killedBy)) === last.killedByHash ? last : undefined;
  return last.tests === testsHash ? last : undefined;
}

const log = process.env.MUTATION_TIMINGS;
const mutant = process.env.__STRYKER_ACTIVE_MUTANT__;
// The dry run: every test file of the files being mutated (the driver names them), so that the
// timeout Stryker derives from it covers any one mutant's share.
const scope = (process.env.MUTATION_SCOPE ?? '').split(',').filter(Boolean);
let file: string | undefined;
let tests: string[];
if (mutant === undefined) {
  tests = [...new Set(scope.flatMap((f) => TESTS_FOR[f] ?? []))];
} else {
  file = mutantFiles().get(mutant);
  if (!file) {
    console.error(`run-for-mutant: mutant ${mutant} is in none of ${Object.keys(TESTS_FOR).length} known files (cwd ${process.cwd()})`);
    process.exit(2);
  }
  tests = TESTS_FOR[file]!;
}
const src = file ? sha(readFileSync(file)) : undefined;
const testsHash = sha(tests.map((t) => `${t}:${sha(readFileSync(t))}`).join('\n'));
const before = log && mutant && file ? earlierOutcome(log, mutant, file, src!, tests, testsHash) : undefined;
if (before) {
  appendFileSync(log!, JSON.stringify({ ...before, reused: true, ms: 0 }) + '\n');
  process.exit(before.killedBy ? 1 : 0);
}
const started = Date.now();
const outcome: Outcome = { mutant: mutant ?? 'dry-run', file, src, tests: testsHash, ms: 0 };
for (const t of tests) {
  const r = runTestFile(t);
  if (!r.ok) {
    Object.assign(outcome, { killedBy: t, killedByHash: sha(readFileSync(t)), hung: r.hung || undefined });
    break;
  }
}
outcome.ms = Date.now() - started;
if (log) appendFileSync(log, JSON.stringify(outcome) + '\n');
process.exit(outcome.killedBy ? 1 : 0);
