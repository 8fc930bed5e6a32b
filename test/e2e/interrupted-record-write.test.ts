// A record write killed between its temp file and the rename leaves the temp file behind
// (<dataDir>/records-tmp/.<record>.<pid>.<random>.tmp; versions before records-tmp/ wrote
// them in records/). DEL and ADD of that attachment remove it; GC removes any older than a
// minute, in both places, and leaves younger ones (a write in flight) and other attachments'.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withNet, type TestNet } from '../helpers/host';

const recordName = (net: TestNet, containerId: string) => `${net.name}+${containerId}+eth0.json`;

/** A temp file as a record write of `containerId` killed before its rename leaves it, in `dir` (records-tmp/ or records/). */
function interruptedWrite(net: TestNet, containerId: string, dir = 'records-tmp', ageMs = 0): string {
  const name = `.${recordName(net, containerId)}.4194303.0123abcd.tmp`;
  const file = join(net.dataDir, dir, name);
  writeFileSync(file, '{"schemaVersion":1,"netw', { mode: 0o600 });
  if (ageMs > 0) {
    const t = new Date(Date.now() - ageMs);
    utimesSync(file, t, t);
  }
  return name;
}

const list = (net: TestNet, dir: string) => readdirSync(join(net.dataDir, dir)).sort();

test("DEL of an attachment whose only trace is an interrupted record write removes that temp file, and no other attachment's", async () => {
  await withNet((net) => {
    const conf = net.conf();
    const [a, b] = [net.attachment(), net.attachment()];
    assert.is(net.run('ADD', b, conf).status, 0); // the data dir exists, and b is live
    interruptedWrite(net, a.containerId);
    const other = interruptedWrite(net, b.containerId);
    const del = net.run('DEL', a, conf);
    assert.is(del.status, 0, del.stdout);
    assert.equal(list(net, 'records-tmp'), [other]);
    assert.equal(list(net, 'records'), [recordName(net, b.containerId)]);
    assert.is(net.run('DEL', b, conf).status, 0);
  });
});

test('ADD of such an attachment removes the temp file first, and succeeds', async () => {
  await withNet((net) => {
    const conf = net.conf();
    const [a, b] = [net.attachment(), net.attachment()];
    assert.is(net.run('ADD', b, conf).status, 0);
    interruptedWrite(net, a.containerId);
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    assert.equal(list(net, 'records-tmp'), [], 'before any DEL (whose record removal sweeps too)');
    assert.is(net.run('DEL', a, conf).status, 0);
    assert.is(net.run('DEL', b, conf).status, 0);
  });
});

test('GC removes interrupted record writes older than a minute, in records-tmp/ and in records/, and keeps a younger one', async () => {
  await withNet((net) => {
    const conf = net.conf();
    const [live, c, d, e] = [net.attachment(), net.attachment(), net.attachment(), net.attachment()];
    assert.is(net.run('ADD', live, conf).status, 0);
    interruptedWrite(net, c.containerId, 'records-tmp', 120_000);
    interruptedWrite(net, d.containerId, 'records', 120_000);
    const young = interruptedWrite(net, e.containerId, 'records-tmp', 5_000);
    const gc = net.run('GC', live, { ...conf, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: live.containerId, ifname: 'eth0' }] });
    assert.is(gc.status, 0, gc.stdout);
    assert.equal(list(net, 'records-tmp'), [young]);
    assert.equal(list(net, 'records'), [recordName(net, live.containerId)]);
    assert.is(net.run('DEL', live, conf).status, 0);
  });
});

test.run();
