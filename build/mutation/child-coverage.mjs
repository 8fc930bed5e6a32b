// node --import this (through NODE_OPTIONS, set by uvu-register.mjs in the coverage run only):
// a Node process a test starts that is not the plugin - a fixture script running our sources,
// say - records what it reached too (record-coverage.mjs).
import { recordCoverageAtExit } from './record-coverage.mjs';

if (process.env.MUTATION_COVERAGE_DIR) recordCoverageAtExit(process.env.MUTATION_COVERAGE_DIR);
