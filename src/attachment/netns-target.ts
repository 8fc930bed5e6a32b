// What is at CNI_NETNS decides the mode:
//   nothing      -> create: make both namespaces and pin the netns there (only inside an
//                   allowed pin directory; symlinks and ".." are never a way out of it)
//   a netns      -> adopt: run the delegates on it, record its owner, never unpin it
//   anything else -> error, path untouched.
import { lstatSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { CniError, ErrorCode, show } from '../cni/errors';
import type { PluginConfig } from '../config/netconf';
import { inspectNamespace } from '../ns';

export type NetnsTarget = { mode: 'create'; netnsPin: string; usernsPin: string } | { mode: 'adopt'; netnsPath: string; netnsInode: number; ownerInode: number; ownerIsHost: boolean };

function envError(msg: string): CniError {
  return new CniError(ErrorCode.InvalidEnvironment, msg);
}

/** The real path of a directory, or its normalised spelling when it does not exist yet. */
function realDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return normalize(dir);
  }
}

/**
 * One spelling per netns pin: its parent directory resolved (/var/run/netns/x and
 * /run/netns/x are one pin). Create mode pins at exactly this path, so records name it so.
 */
export function canonicalNetnsPath(netns: string): string {
  return join(realDir(dirname(netns)), basename(netns));
}

/**
 * Why a netns must never be adopted, if it is the host's own (init) network namespace or the
 * one this plugin runs in: delegates would configure - and a rollback delete - the host's
 * interfaces. Compared by namespace identity (nsfs dev + inode), whatever the path spelling.
 */
function hostNetnsReason(netns: string): string | undefined {
  let st: Stats;
  try {
    st = statSync(netns); // a /proc magic link or a pin: both resolve to the nsfs inode
  } catch {
    return undefined;
  }
  for (const [path, what] of [
    ['/proc/1/ns/net', "the host's initial network namespace (/proc/1/ns/net)"],
    ['/proc/self/ns/net', 'the network namespace the plugin itself runs in'],
  ] as const) {
    try {
      const own = statSync(path);
      if (own.dev === st.dev && own.ino === st.ino) return what;
    } catch {
      // /proc/1 hidden (hidepid): the other comparison still applies
    }
  }
  return undefined;
}

function describeKind(path: string): string {
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return 'a symlink';
    if (st.isDirectory()) return 'a directory';
    if (st.isFile()) return 'a regular file that is not a network namespace mount';
    return 'not a network namespace';
  } catch {
    return 'not accessible';
  }
}

export function resolveNetnsTarget(netns: string, conf: PluginConfig): NetnsTarget {
  // normalize() keeps a trailing "/": "x/" would be pinned (and recorded) as "x".
  if (!isAbsolute(netns) || normalize(netns) !== netns || netns.endsWith('/') || netns.split('/').includes('..')) {
    throw envError(`CNI_NETNS: ${show(netns)} must be a normalised absolute path (no "..", "//" or trailing "/")`);
  }
  let exists = true;
  try {
    lstatSync(netns);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw envError(`CNI_NETNS: ${show(netns)}: ${(err as Error).message}`);
    exists = false;
  }

  if (exists) {
    const info = inspectNamespace(netns);
    if (!info.isNsfsMount || info.nsType !== 'net' || info.inode === undefined || !info.owner) {
      throw envError(`CNI_NETNS: ${show(netns)} exists but is ${info.isNsfsMount ? `a ${info.nsType} namespace, not a network namespace` : describeKind(netns)}; left untouched`);
    }
    const hostNs = hostNetnsReason(netns);
    if (hostNs !== undefined) {
      throw envError(`CNI_NETNS: ${show(netns)} is ${hostNs} (netns inode ${info.inode}); refusing to adopt it: delegates would change host interfaces`);
    }
    if (conf.existingNetns === 'refuse') {
      throw envError(`CNI_NETNS: ${show(netns)} already is a network namespace and existingNetns is "refuse"`);
    }
    if (conf.existingNetns === 'adopt-userns-owned' && info.owner.isHostUserns) {
      throw envError(`CNI_NETNS: ${show(netns)} is owned by the host user namespace and existingNetns is "adopt-userns-owned"`);
    }
    return { mode: 'adopt', netnsPath: netns, netnsInode: info.inode, ownerInode: info.owner.inode, ownerIsHost: info.owner.isHostUserns };
  }

  if (conf.netnsPinDirs.length === 0) {
    throw envError(`CNI_NETNS: ${show(netns)} does not exist and create mode is off (netnsPinDirs is empty)`);
  }
  const name = basename(netns);
  const parent = realDir(dirname(netns));
  const allowed = conf.netnsPinDirs.find((d) => realDir(d) === parent);
  if (!allowed || name === '' || name === '.' || name === '..') {
    throw envError(`CNI_NETNS: ${show(netns)} does not exist and is not directly inside an allowed pin directory (${conf.netnsPinDirs.join(', ')})`);
  }
  // Pin at the real directory: a symlinked parent (/var/run -> /run) must not be swapped later.
  return { mode: 'create', netnsPin: canonicalNetnsPath(netns), usernsPin: join(conf.usernsPinDir, name) };
}
