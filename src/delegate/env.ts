// The environment a delegate runs with: ours, with the CNI_* protocol variables replaced.
// Our own CNI_NETNS/CNI_IFNAME/... come from the runtime and must never leak through
// unchanged: the delegate works on our pin, not on what the runtime passed us.
import { callEnv } from '../sys/call-env';

export type DelegateCommand = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';

export interface DelegateEnv {
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** CNI_ARGS as received, "K=V;K2=V2". `IgnoreUnknown=1` is added when absent. */
  cniArgs?: string;
  cniPath: string;
  /** Capability arguments, injected into the delegate's `runtimeConfig` (see prepare.ts). */
  capArgs?: Record<string, unknown>;
}

/**
 * CNI_ARGS with `IgnoreUnknown=1` unless the caller already chose a value: Go plugins reject
 * unknown keys otherwise, and containerd always sends K8S_POD_* keys. The key is matched
 * case-sensitively, as Go's LoadArgs does.
 */
export function withIgnoreUnknown(cniArgs: string | undefined): string {
  const pairs = (cniArgs ?? '').split(';').filter((p) => p !== '');
  if (pairs.some((p) => p.split('=', 1)[0] === 'IgnoreUnknown')) return pairs.join(';');
  return ['IgnoreUnknown=1', ...pairs].join(';');
}

/** Empty string means unset (spec; libcni and ctr send empty values). */
function put(env: Record<string, string | undefined>, key: string, value: string | undefined): void {
  if (value === undefined || value === '') delete env[key];
  else env[key] = value;
}

export function delegateEnv(command: DelegateCommand, e: DelegateEnv, base: NodeJS.ProcessEnv = callEnv()): Record<string, string> {
  const env: Record<string, string | undefined> = { ...base };
  put(env, 'CNI_COMMAND', command);
  put(env, 'CNI_CONTAINERID', e.containerId);
  put(env, 'CNI_NETNS', e.netns);
  put(env, 'CNI_IFNAME', e.ifname);
  put(env, 'CNI_PATH', e.cniPath);
  put(env, 'CNI_ARGS', withIgnoreUnknown(e.cniArgs));
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env as Record<string, string>;
}
