// NODE_OPTIONS in the caller's environment: Node applies it before any of our code runs (in
// the self-contained file too), so the plugin replaces itself, same pid, by a copy without it.
// Seen from outside: a preload's 'exit' hook never fires (its process image is gone), the
// answer is right, and the pid that answered is the one that was started.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARTIFACTS, runPlugin } from '../helpers/plugin';

for (const [name, plugin] of Object.entries(ARTIFACTS)) {
  test(`${name}: NODE_OPTIONS is dropped before the plugin's work (exec of itself, same pid)`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'uxn-nodeopts-'));
    try {
      const trace = join(dir, 'trace');
      const preload = join(dir, 'preload.cjs');
      writeFileSync(
        preload,
        `const fs = require('fs'); fs.appendFileSync(${JSON.stringify(trace)}, 'preload ' + process.pid + ' ' + (process.env.NODE_OPTIONS ? 'with' : 'without') + '\\n'); process.on('exit', () => fs.appendFileSync(${JSON.stringify(trace)}, 'exit ' + process.pid + '\\n'));\n`,
      );
      const r = runPlugin({ CNI_COMMAND: 'VERSION', NODE_OPTIONS: `--require ${preload}` }, { cniVersion: '1.0.0' }, { plugin });
      assert.is(r.status, 0, r.stderr);
      assert.equal(r.json.cniVersion, '1.0.0');
      const lines = readFileSync(trace, 'utf8').trim().split('\n');
      // The preload ran once, in the process Node started with NODE_OPTIONS; that process image
      // was replaced (no exit hook), and the copy that answered ran without NODE_OPTIONS.
      assert.is(lines.length, 1, lines.join(' | '));
      assert.match(lines[0]!, /^preload \d+ with$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('an empty NODE_OPTIONS changes nothing and needs no exec', () => {
  const r = runPlugin({ CNI_COMMAND: 'VERSION', NODE_OPTIONS: '' }, { cniVersion: '1.0.0' });
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.json.cniVersion, '1.0.0');
});

test.run();
