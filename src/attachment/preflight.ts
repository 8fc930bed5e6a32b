// One plan of what ADD needs, checked before anything is touched: the target, the pin
// directories, the mapping or the allocator's pool, every delegate's binary, and what the
// kernel must offer. ADD runs it on its target and stops at the first problem (answered as
// that problem's own error); STATUS runs it for every target the config allows and reports
// all problems. One list, so STATUS never says ready where ADD fails on one of these.
import { accessSync, constants, lstatSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { CniError, ErrorCode, asCniError, show } from '../cni/errors';
import type { CniEnv } from '../cni/env';
import type { Invocation } from '../config/invocation';
import type { PluginConfig } from '../config/netconf';
import { findPlugin } from '../delegate';
import { checkPoolHasRoom } from '../idmap/allocator';
import { poolFromConfig } from '../idmap/pool';
import { resolveExplicitMapping } from '../idmap/resolve';
import { checkPreconditions, isLiveNetnsPin } from '../ns';
import { checkKernelFeatures } from '../ns/preconditions';
import { looksLikeReservation } from '../ns/pins';
import { cloneEngineSupported } from '../ns/clone-holder';
import { refuseMarkedDelegatesOnHostOwned } from './pod-userns';
import type { AttachmentContext } from './context';
import { resolveNetnsTarget, type NetnsTarget } from './netns-target';

export interface PlanStep {
  /** What STATUS puts before the problem's message (a delegate's name); none: the message says. */
  label?: string;
  /** The delegate this step is about (STATUS probes only the delegates whose binary was found). */
  delegate?: number;
  /** Throws the CniError ADD answers with. */
  check(): void;
}

/**
 * What the plan is for: ADD's resolved target (undefined when it could not be resolved
 * before the lock: see resolveAddTarget), or 'any' for STATUS - every target this config
 * allows, i.e. create mode whenever netnsPinDirs is not empty.
 */
export type PlanTarget = NetnsTarget | undefined | 'any';

export interface PlanInput {
  conf: PluginConfig;
  env: CniEnv;
  cniPath: string;
  target: PlanTarget;
}

function envError(msg: string): CniError {
  return new CniError(ErrorCode.InvalidEnvironment, msg);
}

/** (l)stat, or undefined when nothing is there. */
function statOrNone(path: string, follow: boolean): Stats | undefined {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch (err) {
    // ENOTDIR: a parent is a file - found as such on the way up.
    if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
}

/**
 * A pin directory is usable when it is a writable directory, or can be created in the
 * nearest existing parent (mkdir -p follows the parents' symlinks). Its own last component is
 * followed only where ADD resolves it (`follow`: netns pin directories are used by their real
 * path); a user namespace pin directory that is a symlink, even a dangling one, ensurePinDir
 * refuses.
 */
function checkPinDir(key: string, dir: string, follow: boolean): void {
  const refuse = (why: string) => envError(`${key}: pin directory ${show(dir)} is not usable: ${why}`);
  let d = dir;
  let st: Stats | undefined;
  try {
    st = statOrNone(d, false);
    if (st?.isSymbolicLink() && follow) st = statOrNone(d, true) ?? st; // dangling: stays a symlink
    while (st === undefined && d !== '/') {
      d = dirname(d);
      st = statOrNone(d, true);
    }
    if (st?.isDirectory()) accessSync(d, constants.W_OK);
  } catch (err) {
    throw refuse((err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  if (st?.isSymbolicLink()) throw refuse(`${d} is a symlink${follow ? ' to nothing' : ' (not followed)'}`);
  if (!st?.isDirectory()) throw refuse(`${d} is not a directory`);
}

/** The pin directories a create-mode ADD writes to, each with the config key that names it. */
function pinDirs(conf: PluginConfig, target: PlanTarget): Array<[key: string, dir: string, follow: boolean]> {
  const userns: [string, string, boolean] = ['usernsPinDir', conf.usernsPinDir, false];
  if (target === 'any') {
    // Adopting a netns the runtime made in a user namespace of its own pins that owner too.
    const owners = conf.netnsPinDirs.length > 0 || conf.existingNetns !== 'refuse' ? [userns] : [];
    return [...conf.netnsPinDirs.map((d, i): [string, string, boolean] => [`netnsPinDirs[${i}]`, d, true]), ...owners];
  }
  if (target?.mode === 'create') return [['CNI_NETNS', dirname(target.netnsPin), true], userns];
  return target?.mode === 'adopt' && !target.ownerIsHost ? [userns] : [];
}

/** Does this plan's ADD create namespaces (and so need a mapping and user namespaces)? */
function creates(conf: PluginConfig, target: PlanTarget): boolean {
  if (target === 'any') return conf.netnsPinDirs.length > 0;
  return target?.mode !== 'adopt'; // undefined: as good as create (the look under the lock decides)
}

export function addPlan({ conf, env, cniPath, target }: PlanInput): PlanStep[] {
  const steps: PlanStep[] = [];
  for (const [key, dir, follow] of pinDirs(conf, target)) steps.push({ check: () => checkPinDir(key, dir, follow) });
  if (creates(conf, target)) {
    steps.push({
      check: () => {
        if (resolveExplicitMapping(conf, env)) return;
        const pool = poolFromConfig(conf.allocator);
        // ADD allocates under the table lock right after (sweeping orphans when full):
        // only STATUS asks the table ahead of time.
        if (target === 'any') checkPoolHasRoom(conf.dataDir, pool);
      },
    });
  }
  // A delegate marked to run in the pod's user namespace needs one (pod-userns.ts).
  if (target !== 'any' && target?.mode === 'adopt' && target.ownerIsHost) {
    const { netnsPath } = target;
    steps.push({ check: () => refuseMarkedDelegatesOnHostOwned(conf.delegates, netnsPath) });
  }
  conf.delegates.forEach((d, i) => {
    steps.push({ label: `delegate ${JSON.stringify(String(d.type))}`, delegate: i, check: () => void findPlugin(String(d.type), cniPath) });
  });
  // The namespace engine's own preconditions (user namespaces enabled, pidfd, NS_GET_USERNS,
  // the helper binaries when the exec engine is used); adopt mode needs the kernel features only.
  if (creates(conf, target) && target !== undefined) steps.push({ check: () => void checkPreconditions(!cloneEngineSupported()) });
  else steps.push({ check: () => checkKernelFeatures() });
  return steps;
}

/** Runs every step; the problems, in plan order, each with its label. */
export function planProblems(steps: PlanStep[]): Array<{ step: PlanStep; error: CniError }> {
  const out: Array<{ step: PlanStep; error: CniError }> = [];
  for (const step of steps) {
    try {
      step.check();
    } catch (err) {
      out.push({ step, error: asCniError(err) });
    }
  }
  return out;
}

/**
 * ADD's target as it looks before the lock. Undefined when what is at CNI_NETNS may still
 * change into something ADD accepts: a leftover of a killed ADD of this very attachment (the
 * retry clears it under the lock first), another network's pin reservation in progress (left
 * to the look under the netns lock), or a netns mounted since we looked (looked at again).
 */
function resolveAddTarget(ctx: AttachmentContext, inv: Invocation<'ADD'>): NetnsTarget | undefined {
  const { conf, env } = inv;
  for (let look = 1; ; look++) {
    try {
      return resolveNetnsTarget(env.netns, conf);
    } catch (err) {
      if (ctx.store.get(ctx.key) !== undefined) return undefined;
      if (looksLikeReservation(env.netns)) return undefined;
      if (look === 3 || !isLiveNetnsPin(env.netns)) throw err;
    }
  }
}

/**
 * ADD's preflight: a bad CNI_NETNS, pin directory, mapping, allocator setting or delegate, or
 * a kernel without what the engine needs, fails here with its own error, before any file,
 * lock or namespace exists. (Checked again under the lock where the answer can change meanwhile.)
 */
export function preflightAdd(ctx: AttachmentContext, inv: Invocation<'ADD'>): void {
  const target = resolveAddTarget(ctx, inv);
  for (const step of addPlan({ conf: inv.conf, env: inv.env, cniPath: ctx.cniPath, target })) step.check();
}
