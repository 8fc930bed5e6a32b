// GC (CNI 1.1.0): every attachment of this network that our records know and the runtime did
// not list in cni.dev/valid-attachments (or the older cni.dev/attachments; a missing key
// means none is valid, as cnitool sends it) goes through the full DEL path. Then id blocks no
// record owns, stale temp files, and GC forwarded to delegates that speak 1.1.0. Pins are
// removed only through a record that proves them ours: pin directories are shared by every
// network and data dir, so a pin no record of *this* data dir names may well be someone
// else's. Errors do not stop the sweep; all are reported at the end.
import { CniError, ErrorCode, asCniError, combineErrors } from '../cni/errors';
import type { Invocation } from '../config/invocation';
import { createLogger, startFields } from '../log/logger';
import { contextFor, openStore } from '../attachment/context';
import { delegateCallFor, prepareDelegate, runDelegate } from '../attachment/delegate-runner';
import * as journal from '../attachment/journal';
import { clearLeftover } from '../attachment/leftover';
import { sweepNetnsLocks } from '../attachment/netns-lock';
import { sweepOrphanAllocations } from '../idmap/allocator';
import { allocatorEnv } from '../idmap/store-records';

interface ValidAttachment {
  containerID: string;
  ifname: string;
}

function validAttachments(raw: Record<string, unknown>): Set<string> {
  const list = raw['cni.dev/valid-attachments'] ?? raw['cni.dev/attachments'];
  const set = new Set<string>();
  if (list === undefined) return set;
  if (!Array.isArray(list)) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, 'cni.dev/valid-attachments: must be an array of {"containerID", "ifname"}');
  }
  for (const [i, a] of list.entries()) {
    const v = a as Partial<ValidAttachment>;
    if (typeof v?.containerID !== 'string' || typeof v?.ifname !== 'string') {
      throw new CniError(ErrorCode.InvalidNetworkConfig, `cni.dev/valid-attachments[${i}]: must be {"containerID": string, "ifname": string}`);
    }
    set.add(`${v.containerID}\0${v.ifname}`);
  }
  return set;
}

export async function cmdGc(inv: Invocation<'GC'>): Promise<undefined> {
  const log = createLogger({ file: inv.conf.logFile, level: inv.conf.logLevel, command: 'GC' });
  log.info('start', startFields());
  const valid = validAttachments(inv.conf.raw as Record<string, unknown>);
  const store = openStore(inv.conf.dataDir);
  const errors: CniError[] = [];

  // Names only: a record is read (under its lock) only when it is released, and the
  // allocation table lock is never held while the records are walked.
  for (const key of store.keys()) {
    if (key.network !== inv.conf.name || valid.has(`${key.containerId}\0${key.ifname}`)) continue;
    const ctx = contextFor(inv, key, log, store);
    try {
      await store.withLock(key, { timeoutMs: inv.conf.lockTimeoutMs }, async (lock) => {
        const fresh = store.get(key); // re-read under the lock: a DEL may have won the race
        if (fresh === undefined) return;
        await clearLeftover(ctx, fresh);
        lock.removeOnRelease();
      });
      log.info('gc-released', { containerId: key.containerId, ifname: key.ifname });
    } catch (err) {
      errors.push(asCniError(err));
    }
  }

  try {
    const dropped = await sweepOrphanAllocations(allocatorEnv(inv.conf, store, log));
    if (dropped > 0) log.info('gc-orphan-allocations', { dropped });
  } catch (err) {
    errors.push(asCniError(err));
  }
  journal.sweepInterruptedWrites(store);
  try {
    const locks = await store.sweepLocks();
    if (locks > 0) log.info('gc-lock-files-removed', { count: locks });
  } catch (err) {
    errors.push(asCniError(err));
  }
  await sweepNetnsLocks(store.locksDir); // left by a plugin killed while holding one

  // Forward GC to delegates that speak 1.1.0 (Debian's plugins 1.1.1 stop at 1.0.0).
  const call = delegateCallFor(inv, log); // for the network: no attachment
  for (const delegate of inv.conf.delegates) {
    try {
      const d = await prepareDelegate(call, delegate);
      if (d.cniVersion !== '1.1.0') continue;
      const conf = { ...d.conf, 'cni.dev/valid-attachments': inv.conf.raw['cni.dev/valid-attachments'] ?? inv.conf.raw['cni.dev/attachments'] ?? [] };
      await runDelegate(call, 'GC', { ...d, conf }, undefined);
    } catch (err) {
      errors.push(asCniError(err));
    }
  }

  const failed = combineErrors(errors, { heading: (n) => `GC: ${n} problem(s)` });
  if (failed) throw failed;
  return undefined;
}
