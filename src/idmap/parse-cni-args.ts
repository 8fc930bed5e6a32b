// USERNS_UID_MAP / USERNS_GID_MAP in CNI_ARGS: comma-separated "containerID:hostID:size" triples.
import { CniError, ErrorCode, show } from '../cni/errors';
import type { IdMapRange } from '../ns';

const TRIPLE = /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/;

export function parseMapArg(key: string, value: string): IdMapRange[] {
  const ranges: IdMapRange[] = [];
  for (const [i, item] of value.split(',').entries()) {
    const m = TRIPLE.exec(item.trim());
    if (!m) {
      throw new CniError(ErrorCode.InvalidEnvironment, `CNI_ARGS ${key}: entry ${i} ${show(item)} is not containerID:hostID:size (in ${show(value)})`);
    }
    ranges.push({ containerID: Number(m[1]), hostID: Number(m[2]), size: Number(m[3]) });
  }
  return ranges;
}
