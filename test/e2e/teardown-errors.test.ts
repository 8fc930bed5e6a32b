// A teardown whose steps fail reports every failure, not only the first, keeps the record, and
// the next DEL finishes once the steps succeed - for a readable record and for a damaged one
// (released through the configured delegates).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostState, withNet, type TestNet } from '../helpers/host';
import { CNI_BIN } from '../helpers/plugin';

const SCRIPT = join(import.meta.dirname, 'fixtures', 'failing-del-delegate.sh');

/** Two copies of the failing-DEL delegate after bridge, and the CNI_PATH that finds them. */
function twoFailingDels(net: TestNet): { conf: Record<string, unknown>; env: Record<string, string>; failDel: (on: boolean) => void } {
  const bin = join(net.dir, 'faildel-bin');
  mkdirSync(bin);
  for (const name of ['faila', 'failb']) copyFileSync(SCRIPT, join(bin, name));
  const flag = join(bin, 'fail-del');
  return {
    conf: net.conf('1.0.0', {}, [net.bridgeDelegate(), { type: 'faila' }, { type: 'failb' }]),
    env: { CNI_PATH: `${bin}:${CNI_BIN}` },
    failDel: (on) => (on ? writeFileSync(flag, '') : rmSync(flag, { force: true })),
  };
}

const recordFile = (net: TestNet, cid: string) => join(net.dataDir, 'records', `${net.name}+${cid}+eth0.json`);

for (const damaged of [false, true]) {
  test(`DEL of a ${damaged ? 'damaged' : 'readable'} record with two failing delegate DELs reports both and keeps the record`, async () => {
    await withNet(async (net) => {
      const before = hostState();
      const { conf, env, failDel } = twoFailingDels(net);
      const a = net.attachment();
      const add = net.run('ADD', a, conf, env);
      assert.is(add.status, 0, add.stdout);
      if (damaged) {
        const file = recordFile(net, a.containerId);
        writeFileSync(file, readFileSync(file, 'utf8').replace('"schemaVersion":1', '"schemaVersion":"garbage"'));
      }
      failDel(true);
      const del = net.run('DEL', a, conf, env);
      assert.is(del.status, 1, del.stdout);
      assert.is(del.json.code, 11, "the first failure's code");
      assert.match(del.json.msg, '2 cleanup steps failed');
      assert.match(del.json.msg, 'failb cannot delete now');
      assert.match(del.json.msg, 'faila cannot delete now');
      assert.ok(existsSync(recordFile(net, a.containerId)), 'the record stays for the next DEL');

      failDel(false);
      const again = net.run('DEL', a, conf, env);
      assert.is(again.status, 0, again.stdout);
      assert.not.ok(existsSync(recordFile(net, a.containerId)));
      assert.equal(net.reservations(), []);
      assert.equal(net.vethsOnBridge(), []);
      assert.equal(hostState(), before);
    });
  });
}

test.run();
