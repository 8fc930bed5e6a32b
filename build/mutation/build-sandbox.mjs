// Stryker's buildCommand (build/mutation/stryker.config.json), run in its sandbox: the bundle of
// the instrumented sources, built once for every mutant, with the coverage run's exit hook
// (record-coverage.mjs) called first thing in the sandbox's copy of the entry point. Stryker links
// node_modules into the sandbox only after the build (and the bundle names files under
// node_modules by path), so the link is made here first, to the checkout's node_modules two
// levels up (.stryker-tmp/sandbox-*/).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const modules = resolve('../../node_modules');
if (!existsSync(`${modules}/koffi`)) throw new Error(`build-sandbox: no node_modules at ${modules}; is the cwd a Stryker sandbox?`);
if (!existsSync('node_modules')) symlinkSync(modules, 'node_modules');
const main = 'plugins/userns-netns/main.ts';
const text = readFileSync(main, 'utf8');
if (!text.includes('recordCoverageAtExit')) {
  const hook = `import { recordCoverageAtExit } from '../../build/mutation/record-coverage.mjs';\nrecordCoverageAtExit(${JSON.stringify(resolve('.mutation-coverage'))});\n`;
  writeFileSync(main, hook + text);
}
execFileSync('npm', ['run', 'build'], { stdio: 'inherit', env: { ...process.env, BUILD_SEA: '0' } });
