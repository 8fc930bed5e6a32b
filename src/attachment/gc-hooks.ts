// Extra sweeps GC runs after the attachments (e.g. allocations no record owns).
import type { Invocation } from '../cni/invocation';
import type { AttachmentRecord } from '../generated/types';
import type { RecordStore } from '../state/record-store';

export type GcHook = (inv: Invocation, store: RecordStore<AttachmentRecord>) => void | Promise<void>;

export const gcHooks: GcHook[] = [];
