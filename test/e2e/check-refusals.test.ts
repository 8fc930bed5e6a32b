// CHECK's refusals say what is wrong and with what: an attachment never added (code 3, named),
// a CNI_NETNS that is not the recorded netns (code 100, both paths named), a damaged record
// (code 102, naming the attachment and the damage), and every problem verify() finds, not only
// the first.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, withNet } from '../helpers/host';

test('CHECK of an attachment never added: code 3 naming it', async () => {
  await withNet((net) => {
    const a = net.attachment();
    const r = net.run('CHECK', a, { ...net.conf(), prevResult: { cniVersion: '1.0.0' } });
    assert.is(r.json?.code, 3, r.stdout);
    assert.is(r.json.msg, `CHECK: no attachment "${net.name}/${a.containerId}/eth0"`);
  });
});

test('CHECK at a CNI_NETNS other than the recorded one: code 100 naming both', async () => {
  await withNet((net) => {
    const [a, b] = [net.attachment(), net.attachment()];
    const conf = net.conf();
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    assert.is(net.run('ADD', b, conf).status, 0);
    const r = net.run('CHECK', { containerId: a.containerId, netnsPin: b.netnsPin }, { ...conf, prevResult: add.json });
    assert.is(r.json?.code, 100, r.stdout);
    assert.is(r.json.msg, `CHECK: CNI_NETNS "${b.netnsPin}" is not the recorded netns "${a.netnsPin}"`);
    for (const x of [a, b]) assert.is(net.run('DEL', x, conf).status, 0);
  });
});

test('CHECK of a damaged record: code 102 naming the attachment and the damage', async () => {
  await withNet((net) => {
    const a = net.attachment();
    const conf = net.conf();
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    const file = join(net.dataDir, 'records', `${net.name}+${a.containerId}+eth0.json`);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"schemaVersion":1', '"schemaVersion":"garbage"'));
    const r = net.run('CHECK', a, { ...conf, prevResult: add.json });
    assert.is(r.json?.code, 102, r.stdout);
    assert.is(r.json.msg, `CHECK: the record of "${net.name}/${a.containerId}/eth0" is damaged: does not have the shape of a record`);
    assert.is(net.run('DEL', a, conf).status, 0);
  });
});

test('CHECK after both pins were unmounted by hand: code 100 naming each problem', async () => {
  await withNet((net) => {
    const a = net.attachment();
    const conf = net.conf();
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    for (const p of [a.netnsPin, a.usernsPin]) sh('umount', ['-l', p]);
    const r = net.run('CHECK', a, { ...conf, prevResult: add.json });
    assert.is(r.json?.code, 100, r.stdout);
    const problems = r.json.msg.replace(/^CHECK: /, '').split('; ');
    assert.ok(problems.length >= 2, r.json.msg);
    assert.ok(
      problems.some((p: string) => p.includes(a.netnsPin)),
      r.json.msg,
    );
    assert.ok(
      problems.some((p: string) => p.includes(a.usernsPin)),
      r.json.msg,
    );
    assert.is(net.run('DEL', a, conf).status, 0);
    assert.equal(net.reservations(), []);
  });
});

test.run();
