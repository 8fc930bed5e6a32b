// The CNI_* environment, parsed once at the edge. A runtime may set a variable to the empty
// string instead of unsetting it (libcni does for GC/STATUS, ctr sends DEL with CNI_NETNS=),
// so empty means absent everywhere.
import { CniError, ErrorCode, show } from './errors';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'] as const;
export type Command = (typeof COMMANDS)[number];

export interface CniEnv {
  command: Command;
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** CNI_ARGS as ordered key/value pairs (keys may repeat; the last one wins in `argsMap`). */
  args: Array<[string, string]>;
  argsMap: Map<string, string>;
  /** CNI_PATH split on ':' with empty entries dropped. */
  path: string[];
}

/** DEL: one attachment, CNI_NETNS optional (ctr sends it empty). */
export interface AttachmentEnv extends CniEnv {
  containerId: string;
  ifname: string;
}

/** ADD and CHECK: one attachment in a netns. */
export interface NetnsEnv extends AttachmentEnv {
  netns: string;
}

/** What parseEnv guarantees for each command: the variables REQUIRED names are set. */
export type EnvOf<C extends Command> = C extends 'ADD' | 'CHECK' ? NetnsEnv : C extends 'DEL' ? AttachmentEnv : CniEnv;

// What CNI 1.1 requires for each command (libcni's and Go skel's checks). Keep EnvOf in step.
const REQUIRED: Record<Command, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  GC: ['CNI_PATH'],
  STATUS: ['CNI_PATH'],
  VERSION: [],
};

export const ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_ID_LENGTH = 1024;

function get(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const v = env[key];
  return v === undefined || v === '' ? undefined : v;
}

/** CNI_COMMAND alone: undefined when the plugin is run by a person (no command set). */
export function commandOf(env: NodeJS.ProcessEnv): Command | undefined {
  const raw = get(env, 'CNI_COMMAND');
  if (raw === undefined) return undefined;
  if (!(COMMANDS as readonly string[]).includes(raw)) {
    throw new CniError(ErrorCode.InvalidEnvironment, `CNI_COMMAND: unknown command ${show(raw)} (expected one of ${COMMANDS.join(', ')})`);
  }
  return raw as Command;
}

export function validateContainerId(id: string, key = 'CNI_CONTAINERID'): void {
  if (id.length > MAX_ID_LENGTH || !ID_PATTERN.test(id)) {
    throw new CniError(ErrorCode.InvalidEnvironment, `${key}: invalid container id ${show(id)}: must match ${ID_PATTERN.source} (at most ${MAX_ID_LENGTH} characters)`);
  }
}

export function validateIfname(name: string, key = 'CNI_IFNAME'): void {
  let why: string | undefined;
  if (name.length > 15) why = 'longer than 15 characters';
  else if (name === '.' || name === '..') why = 'must not be "." or ".."';
  else if (/[/:\s]/.test(name)) why = 'must not contain "/", ":" or whitespace';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rejects
  else if (/[\0-\x1f\x7f]/.test(name)) why = 'must not contain control characters';
  if (why) throw new CniError(ErrorCode.InvalidEnvironment, `${key}: invalid interface name ${show(name)}: ${why}`);
}

export function parseCniArgs(raw: string | undefined): Array<[string, string]> {
  if (raw === undefined) return [];
  const pairs: Array<[string, string]> = [];
  for (const item of raw.split(';')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) {
      throw new CniError(ErrorCode.InvalidEnvironment, `CNI_ARGS: invalid pair ${show(item)}: expected KEY=VALUE`);
    }
    pairs.push([item.slice(0, eq), item.slice(eq + 1)]);
  }
  return pairs;
}

export function parseEnv<C extends Command>(env: NodeJS.ProcessEnv, command: C): EnvOf<C> {
  const missing = REQUIRED[command].filter((k) => get(env, k) === undefined);
  if (missing.length > 0) {
    throw new CniError(ErrorCode.InvalidEnvironment, `required environment variables missing for ${command}: ${missing.join(', ')}`);
  }
  const containerId = get(env, 'CNI_CONTAINERID');
  if (containerId !== undefined) validateContainerId(containerId);
  const ifname = get(env, 'CNI_IFNAME');
  if (ifname !== undefined) validateIfname(ifname);
  const netns = get(env, 'CNI_NETNS');
  if (netns !== undefined && (!netns.startsWith('/') || netns.includes('\0'))) {
    throw new CniError(ErrorCode.InvalidEnvironment, `CNI_NETNS: must be an absolute path, got ${show(netns)}`);
  }
  const args = parseCniArgs(get(env, 'CNI_ARGS'));
  const path = (get(env, 'CNI_PATH') ?? '').split(':').filter((p) => p !== '');
  // REQUIRED[command] were checked above: what EnvOf<C> promises is there.
  return { command, containerId, netns, ifname, args, argsMap: new Map(args), path } as EnvOf<C>;
}
