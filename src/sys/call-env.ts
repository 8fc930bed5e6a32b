// The environment of the CNI call being served. In-process it is process.env; in the resident
// helper (src/helper/serve.ts) many calls run at once in one process, each with the environment
// its shim sent, and the helper installs a source that finds the current call's (through
// AsyncLocalStorage, so the verbs' code takes no extra parameter through a dozen layers).
// Read through this, never process.env, by what a call's environment decides: the delegates'
// environment, CNI_PATH for VERSION probes, the failpoints of the crash tests.
// Process-wide on purpose (read from process.env by the helper's own process): NODE_OPTIONS
// (Node reads it before our code), USERNS_NETNS_CACHE_DIR (the addon and the code cache are
// loaded once per process).
let source: () => NodeJS.ProcessEnv = () => process.env;

export function callEnv(): NodeJS.ProcessEnv {
  return source();
}

export function setCallEnvSource(fn: () => NodeJS.ProcessEnv): void {
  source = fn;
}
