import { CniError, ErrorCode } from '../cni/errors';
import type { Invocation } from '../cni/invocation';

export async function cmdCheck(_inv: Invocation): Promise<unknown> {
  throw new CniError(ErrorCode.Internal, 'check: not implemented yet');
}
