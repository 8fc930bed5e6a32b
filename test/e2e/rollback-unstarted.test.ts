// An ADD that fails before a delegate started rolls back without that delegate's DEL: the
// record lists every delegate as an intent from its first write, but ADD's own rollback knows
// which it started (add.ts: Attempt.started). A DEL or GC from the record later sends DEL to
// all of them, which every plugin must accept; the rollback need not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { failpointEnv } from '../../src/attachment/failpoints';
import { CNI_BIN } from '../helpers/plugin';
import { hostState, withNet } from '../helpers/host';

const FAKE = join(import.meta.dirname, '..', 'delegate', 'fixtures', 'fake-delegate.sh');

for (const [point, started] of [
  ['add-after-sysctls', []],
  ['add-before-delegate-0', []],
  ['add-before-delegate-1', ['fake']],
] as const) {
  test(`failed at ${point}: the rollback sends DEL to ${started.length ? started.join(', ') : 'no delegate'}, and leaves nothing`, async () => {
    await withNet((net) => {
      const before = hostState();
      const bin = join(net.dir, 'fakebin');
      mkdirSync(bin, { recursive: true });
      copyFileSync(FAKE, join(bin, 'fake'));
      const a = net.attachment();
      const conf = net.conf('1.0.0', {}, [{ type: 'fake' }, net.bridgeDelegate()]);
      const r = net.run('ADD', a, conf, { CNI_PATH: `${bin}:${CNI_BIN}`, ...failpointEnv(point, 'fail') });
      assert.is(r.json?.code, 999, r.stdout);
      assert.match(r.json.msg, `failpoint ${point}`);
      const calls = readFileSync(join(bin, 'calls.log'), 'utf8')
        .trim()
        .split('\n')
        .filter((c) => c !== 'VERSION');
      assert.equal(calls, started.length ? ['ADD', 'DEL'] : [], 'the fake delegate: ADD then DEL only if it was started');
      assert.equal(net.reservations(), []);
      assert.not.ok(existsSync(a.netnsPin));
      assert.not.ok(existsSync(join(net.dataDir, 'records', `${net.name}+${a.containerId}+eth0.json`)));
      assert.equal(hostState(), before);
    });
  });
}

test.run();
