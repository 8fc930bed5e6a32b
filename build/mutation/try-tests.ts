// A focused check while writing a test that should kill mutants: in a copy of a mutation sandbox
// (the cwd; made by `npm run mutate`, see below), run the given test files against each mutant of
// one source file and list the mutants none of them kills, with the instrumented code around each.
//   node --import tsx build/mutation/try-tests.ts <src file> <test file>... [--ids 12,14]
// A copy of a live sandbox for this: cp -a .stryker-tmp/sandbox-X /some/dir, then in the copy
// point the coverage hook at itself and rebuild (the live pass's coverage run must not get our
// plugin runs): sed -i "s|<live sandbox>|<copy>|" plugins/userns-netns/main.ts && BUILD_SEA=0 npm run build
import { readFileSync } from 'node:fs';
import { runTests, WHOLE_FILE } from './test-process';

const args = process.argv.slice(2);
const idsAt = args.indexOf('--ids');
const only = idsAt >= 0 ? new Set(args.splice(idsAt, 2)[1]!.split(',')) : undefined;
const [src, ...tests] = args;
if (!src || tests.length === 0) throw new Error('usage: try-tests.ts <src file> <test file>... [--ids a,b]');
const text = readFileSync(src, 'utf8');
const ids = [...new Set([...text.matchAll(/stryMutAct_9fa48\("(\d+)"\)/g)].map((m) => m[1]!))].filter((id) => !only || only.has(id));
if (ids.length === 0) throw new Error(`${src}: no mutants (not a sandbox's instrumented file?)`);
for (const t of tests) if (!runTests([`${t}${WHOLE_FILE}`], { timeoutMs: 600_000 }).ok) throw new Error(`${t} fails without a mutant`);
let survivors = 0;
for (const id of ids) {
  const killed = tests.some((t) => !runTests([`${t}${WHOLE_FILE}`], { mutant: id, timeoutMs: 600_000 }).ok);
  if (killed) continue;
  survivors++;
  const at = text.indexOf(`stryMutAct_9fa48("${id}")`);
  const line = text.slice(0, at).split('\n').length;
  const snippet = text
    .slice(at + `stryMutAct_9fa48("${id}")`.length, at + 260)
    .replace(/stryCov_9fa48\([^)]*\),?\s*/g, '')
    .replace(/stryMutAct_9fa48\("\d+"\)/g, 'M')
    .replace(/\s+/g, ' ')
    .slice(0, 160);
  console.log(`#${id} (instrumented line ${line}): ${snippet}`);
}
console.log(`${src}: ${ids.length - survivors} of ${ids.length} mutants killed by ${tests.join(', ')}`);
