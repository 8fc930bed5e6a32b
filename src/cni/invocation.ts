// One parsed, typed invocation: the environment and the configuration, validated once.
import type { PluginConfig } from '../config/netconf';
import { loadNetConf } from '../config/netconf';
import type { CniEnv, Command } from './env';
import { parseEnv } from './env';
import { keyToFileName } from '../state/names';
import { parseJsonObject } from './stdin';

export interface Invocation {
  command: Exclude<Command, 'VERSION'>;
  env: CniEnv;
  conf: PluginConfig;
}

export function parseInvocation(
  command: Exclude<Command, 'VERSION'>,
  processEnv: NodeJS.ProcessEnv,
  stdin: Buffer,
): Invocation {
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
