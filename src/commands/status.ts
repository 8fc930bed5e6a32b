import { CniError, ErrorCode } from '../cni/errors';
import type { Invocation } from '../cni/invocation';

export async function cmdStatus(_inv: Invocation): Promise<unknown> {
  throw new CniError(ErrorCode.Internal, 'status: not implemented yet');
}
