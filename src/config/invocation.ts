// One parsed, typed invocation: the environment and the configuration, validated once.
// Typed per verb: ADD's and CHECK's env has a netns, DEL's a container id and ifname (see EnvOf).
import type { PluginConfig } from './netconf';
import { loadNetConf } from './netconf';
import type { Command, EnvOf } from '../cni/env';
import { parseEnv } from '../cni/env';
import { keyToFileName } from '../state/names';
import { parseJsonObject } from '../cni/stdin';

export type Verb = Exclude<Command, 'VERSION'>;

export interface InvocationOf<C extends Verb> {
  command: C;
  env: EnvOf<C>;
  conf: PluginConfig;
}

/** The invocation of verb `C`, or (unparameterised) of any verb: a union discriminated by `command`. */
export type Invocation<C extends Verb = Verb> = C extends Verb ? InvocationOf<C> : never;

export function parseInvocation<C extends Verb>(command: C, processEnv: NodeJS.ProcessEnv, stdin: Buffer): InvocationOf<C> {
  // Environment first: a missing variable is the runtime's bug and says so before any config issue.
  const env = parseEnv(processEnv, command);
  const doc = parseJsonObject(stdin);
  const conf = loadNetConf(doc, command);
  // The attachment's state file names must fit (code 4 otherwise), checked before anything is
  // touched, so that a key works for every verb or is refused by all of them up front.
  if (env.containerId !== undefined && env.ifname !== undefined) {
    keyToFileName({ network: conf.name, containerId: env.containerId, ifname: env.ifname });
  }
  return { command, env, conf };
}
