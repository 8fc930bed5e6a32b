import { CniError, ErrorCode } from '../cni/errors';
import type { Invocation } from '../cni/invocation';

export async function cmdGc(_inv: Invocation): Promise<unknown> {
  throw new CniError(ErrorCode.Internal, 'gc: not implemented yet');
}
