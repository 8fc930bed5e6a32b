// Running tests for the mutation pass: a test file, or some of its tests, in a uvu process of its
// own inside a private host (test/helpers/private-host.sh), as the root tier runs them.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** A test's id is "<file> > <name>"; "<file> > *" stands for the whole file (its hooks, its module load). */
export const WHOLE_FILE = ' > *';
export const fileOf = (test: string) => test.slice(0, test.indexOf(' > '));
export const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex').slice(0, 16);
export const fileHash = (file: string) => sha(readFileSync(file));

export function filesUnder(dir: string, suffix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...filesUnder(p, suffix));
    else if (e.name.endsWith(suffix)) out.push(p);
  }
  return out.sort();
}

export interface TestRun {
  ok: boolean;
  ms: number;
  hung: boolean;
  /** the first test that failed, when one did (not when a hook did, or the run hung) */
  failed?: string;
}

const resultsDir = join(process.cwd(), '.mutation-results');

/**
 * Tests of one file (all of them for a whole-file id), with `mutant` switched on, or with the
 * coverage run's recording (`coverageDir`). uvu's --bail stops at the first failure.
 */
export function runTests(tests: string[], opts: { mutant?: string; coverageDir?: string; timeoutMs: number }): TestRun {
  const started = Date.now();
  const file = fileOf(tests[0]!);
  const slash = file.lastIndexOf('/');
  const pattern = `^${file.slice(slash + 1).replace(/\./g, '\\.')}$`;
  mkdirSync(resultsDir, { recursive: true });
  const results = join(resultsDir, `${process.pid}-${started}.jsonl`);
  const env: Record<string, string | undefined> = { ...process.env, USERNS_NETNS_TEST_PLUGIN: 'script', MUTATION_RESULTS: results };
  delete env.__STRYKER_ACTIVE_MUTANT__;
  if (opts.mutant) env.__STRYKER_ACTIVE_MUTANT__ = opts.mutant;
  if (!tests[0]!.endsWith(WHOLE_FILE)) env.MUTATION_ONLY_TESTS = JSON.stringify(tests);
  if (opts.coverageDir) env.MUTATION_COVERAGE_DIR = opts.coverageDir;
  const uvu = ['node', '--import', 'tsx', '--import', './build/mutation/uvu-register.mjs', 'node_modules/uvu/bin.js', file.slice(0, slash), pattern, '--bail', '--no-color'];
  const verbose = !!process.env.MUTATION_VERBOSE;
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
  return { ok: r.status === 0 && failed === undefined, ms: Date.now() - started, hung: r.signal === 'SIGKILL', failed };
}

/** Long enough for a test that took `expectedMs` in the coverage run; past it, a mutant hung it. */
export const timeoutFor = (expectedMs: number) => Math.max(30_000, 4 * expectedMs + 20_000);
