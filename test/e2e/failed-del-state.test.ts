// What a DEL that failed half-way leaves: the attachment is no longer "ready" but "deleting"
// (journal.ts's teardown step). CHECK refuses it as not ready, the operator's list shows it so,
// and an ADD of the same attachment (podman's network reload is DEL then ADD) once the fault is
// gone finishes the teardown and adds afresh, instead of refusing a duplicate of a pod that is
// half gone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { opJson } from '../cli/helpers/run-operator';
import { hostState, withNet } from '../helpers/host';
import { CNI_BIN } from '../helpers/plugin';

const SCRIPT = join(import.meta.dirname, 'fixtures', 'failing-del-delegate.sh');

test('a DEL failing half-way leaves the attachment "deleting": CHECK says not ready, list shows it, a later ADD clears it and adds afresh', async () => {
  await withNet(async (net) => {
    const before = hostState();
    const bin = join(net.dir, 'faildel-bin');
    mkdirSync(bin);
    copyFileSync(SCRIPT, join(bin, 'faila'));
    const flag = join(bin, 'fail-del');
    const env = { CNI_PATH: `${bin}:${CNI_BIN}` };
    const conf = net.conf('1.0.0', {}, [net.bridgeDelegate(), { type: 'faila' }]);
    const a = net.attachment();

    const add = net.run('ADD', a, conf, env);
    assert.is(add.status, 0, add.stdout);
    writeFileSync(flag, '');
    const del = net.run('DEL', a, conf, env);
    assert.is(del.status, 1, del.stdout);
    assert.match(del.json.msg, 'faila cannot delete now');

    const check = net.run('CHECK', a, { ...conf, prevResult: add.json }, env);
    assert.is(check.json?.code, 3, check.stdout);
    assert.match(check.json.msg, 'is not ready (phase deleting)');
    const rows = opJson(['list', '--json', '--data-dir', net.dataDir]).attachments;
    assert.equal(
      rows.map((r: { containerId: string; phase: string }) => [r.containerId, r.phase]),
      [[a.containerId, 'deleting']],
    );

    rmSync(flag);
    const again = net.run('ADD', a, conf, env);
    assert.is(again.status, 0, again.stdout);
    assert.is(net.reservations().length, 1, 'the first IP released, one new one taken');
    assert.is(net.vethsOnBridge().length, 1);
    assert.is(net.run('CHECK', a, { ...conf, prevResult: again.json }, env).status, 0);
    assert.is(net.run('DEL', a, conf, env).status, 0);
    assert.equal(net.reservations(), []);
    assert.equal(net.vethsOnBridge(), []);
    assert.equal(hostState(), before);
  });
});

test.run();
