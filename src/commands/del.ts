import { CniError, ErrorCode } from '../cni/errors';
import type { Invocation } from '../cni/invocation';

export async function cmdDel(_inv: Invocation): Promise<unknown> {
  throw new CniError(ErrorCode.Internal, 'del: not implemented yet');
}
