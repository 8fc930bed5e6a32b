// An explicit mapping (runtimeConfig, CNI_ARGS, static config) must not reuse ids the
// allocator gave to another live attachment: two pods sharing host ids can signal, ptrace
// and read each other's files. Refused unless allocator.allowSharedRanges says otherwise.
import { CniError, ErrorCode } from '../cni/errors';
import type { IdMappings } from '../ns';
import type { AttachmentKey } from '../state/names';
import { showKey } from './record-holds';
import type { MappingSource } from './resolve';

const SOURCE_NAME: Record<MappingSource, string> = {
  runtimeConfig: 'runtimeConfig.idMappings',
  cniArgs: 'CNI_ARGS USERNS_UID_MAP/USERNS_GID_MAP',
  config: 'idMappings',
};

export function refuseSharedRanges(m: IdMappings, source: MappingSource, held: ReadonlyArray<AttachmentKey & { hostID: number; size: number }>): void {
  for (const name of ['uidMappings', 'gidMappings'] as const) {
    m[name].forEach((r, i) => {
      const hit = held.find((b) => r.hostID < b.hostID + b.size && b.hostID < r.hostID + r.size);
      if (!hit) return;
      throw new CniError(
        ErrorCode.MappingInvalid,
        `${SOURCE_NAME[source]}: ${name}[${i}] (containerID ${r.containerID}, hostID ${r.hostID}, size ${r.size}) overlaps host ids ` +
          `${hit.hostID}-${hit.hostID + hit.size - 1}, the block the allocator gave to attachment ${showKey(hit)}`,
        { details: 'choose other host ids, or set allocator.allowSharedRanges to true to allow sharing' },
      );
    });
  }
}
