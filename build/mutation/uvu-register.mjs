// node --import tsx --import ./build/mutation/uvu-register.mjs node_modules/uvu/bin.js ...: every
// import of 'uvu' (the test files', uvu's own runner's) gets build/mutation/uvu-one-test.mjs
// instead, which runs one named test of the file (MUTATION_ONLY_TEST) and, in the coverage run
// (MUTATION_COVERAGE_DIR), tells Stryker's instrumented code which test is running. In the
// coverage run the Node processes the tests start get child-coverage.mjs (NODE_OPTIONS is
// inherited by every child given this process's environment; the plugin's runs get an
// environment of their own and record through their entry point).
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';

register('./uvu-hooks.mjs', import.meta.url);
if (process.env.MUTATION_COVERAGE_DIR) {
  const hook = fileURLToPath(new URL('./child-coverage.mjs', import.meta.url));
  process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, `--import=${hook}`].filter(Boolean).join(' ');
}
