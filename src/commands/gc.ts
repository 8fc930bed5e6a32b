// GC (CNI 1.1.0): every attachment of this network that our records know and the runtime did
// not list in cni.dev/valid-attachments (or the older cni.dev/attachments; a missing key
// means none is valid, as cnitool sends it) goes through the full DEL path. Then pins and
// allocations no record owns, and GC forwarded to delegates that speak 1.1.0. Errors do not
// stop the sweep; all are reported at the end.
import { CniError, ErrorCode, asCniError } from '../cni/errors';
import type { Invocation } from '../cni/invocation';
import { createLogger } from '../log/logger';
import { isCorrupt } from '../state/record-store';
import { sweepTempFiles } from '../state/atomic-file';
import { contextFor, openStore } from '../attachment/context';
import { prepareDelegate, runDelegate } from '../attachment/delegate-runner';
import { clearLeftover } from '../attachment/leftover';
import { sweepOrphanPins } from '../attachment/orphan-pins';
import { allocatorEnv, sweepOrphanAllocations } from '../idmap/allocator';

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

/** Every pin path any record (of any network in this data dir) names. */
function ownedPins(store: ReturnType<typeof openStore>): Set<string> {
  const owned = new Set<string>();
  for (const { record } of store.list()) {
    if (isCorrupt(record)) continue;
    owned.add(record.netns.path);
    if (record.userns.path) owned.add(record.userns.path);
  }
  return owned;
}

export async function cmdGc(inv: Invocation): Promise<undefined> {
  const log = createLogger({ file: inv.conf.logFile, level: inv.conf.logLevel, command: 'GC' });
  const valid = validAttachments(inv.conf.raw as Record<string, unknown>);
  const store = openStore(inv.conf.dataDir);
  const errors: CniError[] = [];

  for (const { key } of store.list()) {
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

  const pins = sweepOrphanPins(inv.conf.netnsPinDirs, inv.conf.usernsPinDir, () => ownedPins(store));
  for (const p of pins.removed) log.info('gc-orphan-pin', { pin: p });
  errors.push(...pins.errors.map(asCniError));
  try {
    const dropped = await sweepOrphanAllocations(allocatorEnv(inv.conf, store, log));
    if (dropped > 0) log.info('gc-orphan-allocations', { dropped });
  } catch (err) {
    errors.push(asCniError(err));
  }
  sweepTempFiles(store.recordsDir);

  // Forward GC to delegates that speak 1.1.0 (Debian's plugins 1.1.1 stop at 1.0.0).
  const gcCtx = contextFor(inv, { network: inv.conf.name, containerId: '', ifname: '' }, log, store);
  for (const delegate of inv.conf.delegates) {
    try {
      const d = await prepareDelegate(gcCtx, delegate);
      if (d.cniVersion !== '1.1.0') continue;
      const conf = { ...d.conf, 'cni.dev/valid-attachments': inv.conf.raw['cni.dev/valid-attachments'] ?? inv.conf.raw['cni.dev/attachments'] ?? [] };
      await runDelegate(gcCtx, 'GC', { ...d, conf }, undefined);
    } catch (err) {
      errors.push(asCniError(err));
    }
  }

  if (errors.length > 0) {
    throw new CniError(errors[0]!.code, `GC: ${errors.length} problem(s): ${errors.map((e) => e.message).join('; ')}`, { cause: errors[0] });
  }
  return undefined;
}
