// The end-to-end tests again, every call they make through runPlugin relayed to one resident
// helper: `node --import tsx test/helper/helpers/e2e-through-helper.ts [e2e file pattern]`.
// Exits with the tests' status, and 1 when the helper served no call (nothing was tested).
// Crash tests (failpoints that SIGKILL the plugin) are left out: there the failpoint kills the
// helper, and the shim answers 11 instead of dying, by design (see src/helper/shim.ts); the one
// such case in the files run here checks for that. A killed helper is restarted.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from '../../helpers/plugin';
import { calls, startHelper, stopHelper } from './serve';

const pattern = process.argv[2] ?? '(add-del-check|examples|shared-netns|shared-data-dir|check-swapped-netns|residue-drift|adopt-safety|gc-status-lock|pod-userns)';
const h = await startHelper();
// Restarted when a test's failpoint kills it, as systemd's Restart=always would.
let current = h;
let finished = false;
const supervise = (x: typeof h): void =>
  void x.exited.then(async () => {
    if (finished) return;
    current = await startHelper({ dir: h.dir });
    supervise(current);
  });
supervise(h);
let status = 1;
try {
  // Async: the supervisor above must run while the tests do.
  const child = spawn('node', ['--import', 'tsx', join(REPO, 'node_modules/uvu/bin.js'), 'test/e2e', pattern, '--no-color'], { cwd: REPO, stdio: 'inherit', env: { ...process.env, ...h.env } });
  const r = { status: await new Promise<number | null>((resolve) => child.once('exit', resolve)) };
  const served = calls(h).length;
  const events: Record<string, number> = {};
  for (const l of h.log()) {
    const k = l.event === 'refused' || l.event === 'stop' ? `${l.event}: ${l.reason ?? l.why}` : l.event;
    events[k] = (events[k] ?? 0) + 1;
  }
  console.log(`# e2e through the helper: ${served} calls served by it; helper log: ${JSON.stringify(events)}`);
  status = r.status === 0 && served > 0 ? 0 : 1;
} finally {
  finished = true;
  stopHelper(current);
}
process.exit(status);
