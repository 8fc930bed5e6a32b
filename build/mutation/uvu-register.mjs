// node --import tsx --import ./build/mutation/uvu-register.mjs node_modules/uvu/bin.js ...: every
// import of 'uvu' (the test files', uvu's own runner's) gets build/mutation/uvu-one-test.mjs
// instead, which runs one named test of the file (MUTATION_ONLY_TEST) and, in the coverage run
// (MUTATION_COVERAGE_DIR), tells Stryker's instrumented code which test is running.
import { register } from 'node:module';

register('./uvu-hooks.mjs', import.meta.url);
