import { CniError, ErrorCode } from '../cni/errors';
import type { Invocation } from '../cni/invocation';

export async function cmdAdd(_inv: Invocation): Promise<unknown> {
  throw new CniError(ErrorCode.Internal, 'add: not implemented yet');
}
