// Failpoints for crash tests, the mechanism: named points between the journal's steps (the
// names are listed once, in journal.ts), armed through ONE test-only variable,
// USERNS_NETNS_FAILPOINTS="name=action[,name=action]" with action "fail" (throw) or "kill"
// (SIGKILL ourselves). Inert unless set.
import { CniError, ErrorCode } from '../cni/errors';
import { callEnv } from '../sys/call-env';
import type { FailpointName } from './journal';

const VAR = 'USERNS_NETNS_FAILPOINTS';
// Parsed once per value: the resident helper serves calls with different ones.
let armed: { spec: string; table: Map<string, string> } | undefined;

function table(): Map<string, string> {
  const spec = callEnv()[VAR] ?? '';
  if (armed?.spec === spec) return armed.table;
  armed = { spec, table: new Map() };
  for (const item of spec.split(',')) {
    const [name, action] = item.split('=');
    if (name && action) armed.table.set(name.trim(), action.trim());
  }
  return armed.table;
}

export async function failpoint(name: FailpointName): Promise<void> {
  failpointNow(name);
  if (callEnv()[VAR] && table().get(name) === 'kill') await new Promise(() => {}); // never resumes
}

/** The same, synchronous: for hooks called from inside a synchronous step (a SIGKILL sent to
 * ourselves is delivered before kill() returns, so nothing after it runs). */
export function failpointNow(name: FailpointName): void {
  if (!callEnv()[VAR]) return;
  const action = table().get(name);
  if (action === 'fail') throw new CniError(ErrorCode.Internal, `failpoint ${name}`);
  if (action === 'kill') process.kill(process.pid, 'SIGKILL');
}

/** The environment that arms failpoint `name` with `action`: for tests, typed by the list in journal.ts. */
export function failpointEnv(name: FailpointName, action: 'fail' | 'kill'): { [VAR]: string } {
  return { [VAR]: `${name}=${action}` };
}
