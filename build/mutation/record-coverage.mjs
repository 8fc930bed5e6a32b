// The coverage run's half outside the test process: in every plugin process a test starts
// (build/mutation/build-sandbox.mjs puts a call to this at the top of the sandbox's
// plugins/userns-netns/main.ts; the checkout's plugin never has it) and in every other Node
// process it starts (child-coverage.mjs, through NODE_OPTIONS: a test's fixture script running
// our sources). At exit (or as it signals itself) the process writes which of Stryker's
// instrumented mutants it reached, under the test that was running when it started
// (uvu-one-test.mjs keeps that in <dir>/current). Only while <dir>/current exists, i.e. during
// the coverage run, not while mutants are tested.
import { readFileSync, writeFileSync } from 'node:fs';

export function recordCoverageAtExit(dir) {
  let test;
  try {
    test = readFileSync(`${dir}/current`, 'utf8');
  } catch {
    return;
  }
  const write = () => {
    const cov = globalThis.__stryker__?.mutantCoverage;
    if (!cov) return; // a process that loaded none of the instrumented sources
    const ids = new Set(Object.keys(cov.static));
    for (const hits of Object.values(cov.perTest)) for (const id of Object.keys(hits)) ids.add(id);
    try {
      writeFileSync(`${dir}/plugin-${process.pid}-${Date.now()}.json`, JSON.stringify({ test, ids: [...ids] }));
    } catch {
      // a process in a private mount namespace of a test, say: its coverage is lost, not its answer
    }
  };
  process.on('exit', write);
  // A crash test's failpoint SIGKILLs the plugin: no 'exit' follows, and what it reached up to
  // there (the failpoint itself included) would be credited to no test.
  const kill = process.kill.bind(process);
  process.kill = (pid, signal) => {
    if (pid === process.pid) write();
    return kill(pid, signal);
  };
}
