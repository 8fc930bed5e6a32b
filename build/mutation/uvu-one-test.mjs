// uvu's default suite, with two things added for the mutation pass (build/mutation/run-for-mutant.ts):
// - MUTATION_ONLY_TESTS='["<file> > <name>", ...]': only those tests of the file are registered
//   (its before/after hooks still run), so that a mutant costs the tests that can see it, not
//   files; each one's result is appended to MUTATION_RESULTS as it ends (uvu's --bail stops at
//   the first failure);
// - MUTATION_COVERAGE_DIR: the coverage run. While a test runs, Stryker's instrumented code counts
//   the mutants it reaches under that test's id (__stryker__.currentTestId, in this process) and
//   the plugin processes it starts read the id from <dir>/current (record-coverage.mjs); at exit
//   this process writes what it counted, and every test's duration and result.
// The test files import { test } from 'uvu' (one suite per file, one file per process here).
import { appendFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { test as uvuTest } from 'uvu';

export { exec, suite } from 'uvu';

const only = process.env.MUTATION_ONLY_TESTS ? new Set(JSON.parse(process.env.MUTATION_ONLY_TESTS)) : undefined;
const results = process.env.MUTATION_RESULTS;
const coverageDir = process.env.MUTATION_COVERAGE_DIR;
const stryker = () => (globalThis.__stryker__ ??= {});
let file;
let matched = 0;

/** The test file that called us: the first *.test.ts frame of the stack (tsx keeps source paths). */
function callerFile() {
  for (const line of new Error().stack.split('\n')) {
    const m = /(?:file:\/\/)?(\/[^\s:()]+\.test\.ts)/.exec(line);
    if (m) return relative(process.cwd(), m[1]);
  }
  return '(unknown)';
}

/** What the plugin processes started now count under: a test's id, or the file's hooks. */
function setCurrent(id) {
  stryker().currentTestId = id.endsWith(' > *') ? undefined : id;
  writeFileSync(`${coverageDir}/current`, id);
}

function wrapped(name, handler) {
  file ??= callerFile();
  const id = `${file} > ${name}`;
  if (only !== undefined && !only.has(id)) return;
  matched++;
  if (coverageDir) setCurrent(`${file} > *`);
  uvuTest(name, async (state) => {
    if (coverageDir) setCurrent(id);
    const started = Date.now();
    let ok = false;
    try {
      await handler(state);
      ok = true;
    } catch (err) {
      // uvu counts a test that rejects with something other than an Error (a mutant's
      // `throw undefined`, say) as neither passed nor failed, and the file still exits 0.
      throw err instanceof Error ? err : new Error(`rejected with ${String(err)}`);
    } finally {
      if (results) appendFileSync(results, `${JSON.stringify({ id, ok })}\n`);
      if (coverageDir) {
        appendFileSync(`${coverageDir}/durations.jsonl`, `${JSON.stringify({ id, ms: Date.now() - started, ok })}\n`);
        setCurrent(`${file} > *`);
      }
    }
  });
}
for (const key of ['before', 'after', 'only', 'skip', 'run']) wrapped[key] = uvuTest[key];
export const test = wrapped;

// A selection that matches nothing would pass with no test run: a survivor nobody tested.
if (only !== undefined) {
  process.on('exit', () => {
    if (matched < only.size) {
      console.error(`uvu-one-test: ${only.size - matched} of ${JSON.stringify([...only])} not found`);
      process.exitCode = 3;
    }
  });
}
if (coverageDir) {
  process.on('exit', () => {
    const cov = stryker().mutantCoverage ?? { static: {}, perTest: {} };
    const tests = { [`${file} > *`]: Object.keys(cov.static) };
    for (const [id, hits] of Object.entries(cov.perTest)) tests[id] = Object.keys(hits);
    writeFileSync(`${coverageDir}/inproc-${process.pid}.json`, JSON.stringify(tests));
  });
}
