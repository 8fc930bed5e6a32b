// Reading the configuration from stdin never spins: a runtime may hand us a non-blocking pipe
// and write to it late.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runWithNonBlockingStdin } from '../helpers/nonblocking-stdin';

test('a non-blocking stdin written after 1.5 s: the answer is right and the plugin sleeps meanwhile', async () => {
  const r = await runWithNonBlockingStdin({ CNI_COMMAND: 'VERSION' }, JSON.stringify({ cniVersion: '1.0.0' }), 1500);
  assert.is(r.status, 0, r.stdout);
  assert.is(JSON.parse(r.stdout).cniVersion, '1.0.0');
  assert.ok(r.wallMs >= 1500, `waited for the writer (${r.wallMs} ms)`);
  // Start-up alone is ~0.1-0.3 s of CPU; a read loop spinning on EAGAIN burns the whole 1.5 s.
  assert.ok(r.cpuMs < 700, `plugin used ${r.cpuMs.toFixed(0)} ms of CPU in ${r.wallMs.toFixed(0)} ms`);
  console.log(`# non-blocking stdin: ${r.cpuMs.toFixed(0)} ms CPU over ${r.wallMs.toFixed(0)} ms`);
});

test.run();
