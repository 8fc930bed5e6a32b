// Running delegate plugins (the sub-chain) the way Go's pkg/invoke does.
export { findPlugin } from './find';
export { type DelegateCommand, type DelegateEnv, delegateEnv, withIgnoreUnknown } from './env';
export { type DelegateFailure, type DelegateLauncher, type DelegateLogEntry, type InvokeOptions, invokeDelegate } from './invoke';
export { type ProbeOptions, probeVersions } from './probe';
export { type PrepareOptions, chooseDelegateVersion, injectRuntimeConfig, prepareDelegateConf } from './prepare';
