// Everything a verb needs about one attachment, set up once per call.
import type { Invocation } from '../config/invocation';
import type { AttachmentRecord } from '../generated/types';
import { validateAttachmentRecord } from '../generated/validators';
import { createLogger, type Logger } from '../log/logger';
import { RecordStore, type AttachmentKey } from '../state/record-store';
import { type DelegateCall, delegateCallFor } from './delegate-runner';

export interface AttachmentContext {
  inv: Invocation;
  key: AttachmentKey;
  store: RecordStore<AttachmentRecord>;
  log: Logger;
  /** What this attachment's delegates are run with (its CNI_CONTAINERID and CNI_IFNAME). */
  delegateCall: DelegateCall;
  cniPath: string;
}

export function isRecord(x: unknown): x is AttachmentRecord {
  return validateAttachmentRecord(x);
}

export function openStore(dataDir: string): RecordStore<AttachmentRecord> {
  return new RecordStore<AttachmentRecord>(dataDir, { validate: isRecord });
}

export function attachmentContext(inv: Invocation<'ADD' | 'DEL' | 'CHECK'>, log?: Logger): AttachmentContext {
  const key = { network: inv.conf.name, containerId: inv.env.containerId, ifname: inv.env.ifname };
  const logger = log ?? createLogger({ file: inv.conf.logFile, level: inv.conf.logLevel, command: inv.command });
  logger.bind({ network: key.network, containerId: key.containerId, ifname: key.ifname });
  return contextFor(inv, key, logger, openStore(inv.conf.dataDir));
}

/** A context for another attachment of the same network (GC works through many). */
export function contextFor(inv: Invocation, key: AttachmentKey, log: Logger, store: RecordStore<AttachmentRecord>): AttachmentContext {
  return {
    inv,
    key,
    store,
    log,
    delegateCall: delegateCallFor(inv, log, key),
    cniPath: inv.env.path.join(':'),
  };
}

/**
 * The chain's result as the delegates made it: the last delegate result. It names the netns by
 * the pin's real path, which is the CNI_NETNS delegates get; the result printed to the runtime
 * (rec.result) names it by the path the runtime used, and bridge's CHECK compares the two.
 */
export function chainResult(rec: AttachmentRecord): Record<string, unknown> | undefined {
  for (let i = rec.delegates.length - 1; i >= 0; i--) {
    const r = rec.delegates[i]!.result;
    if (r) return r;
  }
  return undefined;
}
