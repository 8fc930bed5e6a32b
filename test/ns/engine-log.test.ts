// The engine that made an ADD's namespaces is in the plugin's log: the 'namespaces' step names
// it (on x86-64 the exec-free clone holder; arm64 runs the exec engine).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withNet } from '../helpers/host';

test('ADD logs the namespaces step with the engine that ran', async () => {
  await withNet((net) => {
    const a = net.attachment();
    const conf = net.conf('1.0.0', { logFile: join(net.dir, 'plugin.log'), logLevel: 'info' });
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout + add.stderr);
    try {
      const steps = readFileSync(join(net.dir, 'plugin.log'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((e) => e.step === 'namespaces');
      assert.is(steps.length, 1, JSON.stringify(steps));
      assert.is(steps[0].engine, process.arch === 'x64' ? 'clone' : 'exec');
      assert.type(steps[0].netnsInode, 'number');
    } finally {
      assert.is(net.run('DEL', a, conf).status, 0);
    }
  });
});

test.run();
