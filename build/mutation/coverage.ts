// The coverage run: which tests reach which of Stryker's instrumented mutants. Each test file runs
// once, in its own process, recording (uvu-one-test.mjs in the test process, record-coverage.mjs
// in every plugin or other Node process it starts). Kept per test file in <report dir>/coverage/, under a hash
// of that file and of everything else it runs (sources, entry point, test helpers, the
// recording code): a new or changed test file is measured again, nothing else.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileHash, filesUnder, runTests, sha, WHOLE_FILE } from './test-process';

export interface Coverage {
  /** mutant id -> ids of the tests reaching it */
  mutants: Record<string, string[]>;
  /** test id -> its coverage-run time and result */
  tests: Record<string, { ms: number; ok: boolean }>;
}

/** Test dirs the coverage run leaves out: other tools' runs (runc, podman, containerd), the SEA build, the layer lint. */
const SKIPPED_DIRS = ['test/runtimes', 'test/artifacts', 'test/layers', 'test/bench'];
/** What every test file's coverage depends on besides itself. */
const RECORDING = ['build/mutation/record-coverage.mjs', 'build/mutation/child-coverage.mjs', 'build/mutation/uvu-register.mjs', 'build/mutation/uvu-one-test.mjs', 'build/mutation/uvu-hooks.mjs', 'build/mutation/build-sandbox.mjs'];
/** Where record-coverage.mjs writes (build-sandbox.mjs names this dir to it). */
const recordDir = join(process.cwd(), '.mutation-coverage');

export function testFiles(): string[] {
  // MUTATION_TESTS=<regex>: only the matching test files (a quick look at one module's mutants).
  const only = new RegExp(process.env.MUTATION_TESTS ?? '');
  return filesUnder('test', '.test.ts').filter((f) => !SKIPPED_DIRS.some((d) => f.startsWith(`${d}/`)) && only.test(f));
}

function baseKey(): string {
  const files = [...filesUnder('src'), ...filesUnder('plugins'), ...filesUnder('test').filter((f) => !f.endsWith('.test.ts')), ...RECORDING];
  return sha(files.map((f) => `${f}:${sha(withoutCoverageHook(readFileSync(f, 'utf8')))}`).join('\n'));
}

/** The entry point without the lines build-sandbox.mjs adds: they name the sandbox, new each pass. */
const withoutCoverageHook = (text: string) =>
  text
    .split('\n')
    .filter((l) => !l.includes('recordCoverageAtExit'))
    .join('\n');

/** One test file's coverage, measured now. */
function measure(file: string): Coverage {
  rmSync(recordDir, { recursive: true, force: true });
  mkdirSync(recordDir, { recursive: true });
  const r = runTests([`${file}${WHOLE_FILE}`], { coverageDir: recordDir, timeoutMs: 20 * 60_000 });
  console.error(`coverage: ${file} ${r.ok ? 'passed' : 'FAILED'} in ${(r.ms / 1000).toFixed(1)} s`);
  const mutants = new Map<string, Set<string>>();
  const reach = (id: string, test: string) => {
    let s = mutants.get(id);
    if (!s) mutants.set(id, (s = new Set()));
    s.add(test);
  };
  const tests: Coverage['tests'] = {};
  for (const name of readdirSync(recordDir)) {
    const text = readFileSync(join(recordDir, name), 'utf8');
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
  // The whole file costs what its tests did, and fails if the run did.
  tests[`${file}${WHOLE_FILE}`] = { ms: r.ms, ok: r.ok };
  rmSync(recordDir, { recursive: true, force: true });
  return { mutants: Object.fromEntries([...mutants].map(([id, s]) => [id, [...s].sort()])), tests };
}

/** The coverage of every test file, measuring only those not cached; and its key. */
export function loadCoverage(reportDir: string): { coverage: Coverage; key: string } {
  const dir = join(reportDir, 'coverage');
  mkdirSync(dir, { recursive: true });
  const base = baseKey();
  const keys = testFiles().map((f) => ({ file: f, key: sha(`${base}:${f}:${fileHash(f)}`) }));
  const key = sha(keys.map((k) => k.key).join(','));
  const combined = join(dir, `all-${key}.json`);
  try {
    return { coverage: JSON.parse(readFileSync(combined, 'utf8')) as Coverage, key };
  } catch {}
  const all: Coverage = { mutants: {}, tests: {} };
  for (const { file, key: k } of keys) {
    const cached = join(dir, `${k}.json`);
    let one: Coverage;
    try {
      one = JSON.parse(readFileSync(cached, 'utf8')) as Coverage;
    } catch {
      one = measure(file);
      writeFileSync(cached, JSON.stringify(one));
    }
    Object.assign(all.tests, one.tests);
    for (const [id, tests] of Object.entries(one.mutants)) (all.mutants[id] ??= []).push(...tests);
  }
  writeFileSync(combined, JSON.stringify(all));
  return { coverage: all, key };
}
