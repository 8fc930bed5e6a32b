// STATUS (CNI 1.1.0): can this plugin serve ADD right now? Each check says what is wrong;
// all failures are reported together with code 50. It changes nothing on the host beyond
// a probe file in the data dir, removed at once.
import { accessSync, constants, existsSync, lstatSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import type { Invocation } from '../cni/invocation';
import { createLogger } from '../log/logger';
import { ensurePrivateDir, removeFileDurable, writeFileAtomic } from '../state/atomic-file';
import { delegateCallFor, prepareDelegate, runDelegate } from '../attachment/delegate-runner';

const MAX_USERNS = '/proc/sys/user/max_user_namespaces';

function checkDataDir(dataDir: string): string | undefined {
  try {
    ensurePrivateDir(dataDir);
    const probe = `.status-${process.pid}`;
    writeFileAtomic(dataDir, probe, 'ok');
    removeFileDurable(dataDir, probe);
    return undefined;
  } catch (err) {
    return `data directory ${dataDir} is not writable: ${(err as Error).message}`;
  }
}

/** A pin directory is usable when it (or the nearest existing parent, for creating it) is a writable directory. */
function checkPinDir(dir: string): string | undefined {
  let d = dir;
  while (!existsSync(d) && d !== '/') d = dirname(d);
  try {
    const st = lstatSync(d);
    if (!st.isDirectory()) return `pin directory ${dir}: ${d} is not a directory`;
    accessSync(d, constants.W_OK);
    return undefined;
  } catch (err) {
    return `pin directory ${dir} is not usable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}

function checkUserNamespaces(): string | undefined {
  try {
    const n = Number(readFileSync(MAX_USERNS, 'utf8').trim());
    return n > 0 ? undefined : `user namespaces are disabled (user.max_user_namespaces = ${n})`;
  } catch (err) {
    return `cannot read ${MAX_USERNS}: ${(err as Error).message}`;
  }
}

export async function cmdStatus(inv: Invocation): Promise<undefined> {
  const log = createLogger({ file: inv.conf.logFile, level: inv.conf.logLevel, command: 'STATUS' });
  const problems: string[] = [];
  const add = (p: string | undefined) => p && problems.push(p);
  add(checkDataDir(inv.conf.dataDir));
  if (inv.conf.netnsPinDirs.length > 0) {
    for (const d of inv.conf.netnsPinDirs) add(checkPinDir(d));
    add(checkPinDir(inv.conf.usernsPinDir));
  }
  add(checkUserNamespaces());

  const call = delegateCallFor(inv, log); // for the network: no attachment
  for (const delegate of inv.conf.delegates) {
    try {
      const d = await prepareDelegate(call, delegate);
      if (d.cniVersion === '1.1.0') await runDelegate(call, 'STATUS', d, undefined);
    } catch (err) {
      add(`delegate ${JSON.stringify(String(delegate.type))}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) {
    log.error('status', { problems });
    throw new CniError(ErrorCode.PluginNotAvailable, `plugin not available: ${problems.join('; ')}`);
  }
  return undefined;
}
