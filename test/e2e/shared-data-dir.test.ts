// The default data dir is shared by every network on the host: GC of one network must release
// only its own attachments, whatever the runtime lists, and leave every other network's
// records, pins and reservations working.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hostState, present, withNet } from '../helpers/host';

const noAttachment = { CNI_CONTAINERID: '', CNI_IFNAME: '', CNI_NETNS: '' };

test('GC of one network keeps another network of the same data dir: its record, pins, IP and CHECK', async () => {
  await withNet(async (mine) => {
    await withNet(async (other) => {
      const before = hostState();
      const sharedDataDir = mine.dataDir;
      const mineConf = mine.conf('1.1.0');
      const otherConf = other.conf('1.1.0', { dataDir: sharedDataDir });
      const a = mine.attachment();
      const b = other.attachment();
      assert.is(mine.run('ADD', a, mineConf).status, 0);
      const addB = other.run('ADD', b, otherConf);
      assert.is(addB.status, 0, addB.stdout);
      assert.is(readdirSync(join(sharedDataDir, 'records')).length, 2, 'both networks keep records in the one data dir');

      // cnitool gc sends no list: none of *this* network's attachments is valid.
      const gc = mine.run('GC', { containerId: '' }, mineConf, noAttachment);
      assert.is(gc.status, 0, gc.stdout);
      assert.equal(mine.reservations(), []);
      assert.not.ok(present(a.netnsPin), 'our own attachment was released');

      assert.equal(readdirSync(join(sharedDataDir, 'records')), [`${other.name}+${b.containerId}+eth0.json`]);
      assert.is(other.reservations().length, 1, "the other network's IP is still reserved");
      assert.is(other.vethsOnBridge().length, 1);
      const check = other.run('CHECK', b, { ...otherConf, prevResult: addB.json });
      assert.is(check.status, 0, `the other network's attachment still passes CHECK: ${check.stdout}`);

      assert.is(other.run('DEL', b, otherConf).status, 0);
      assert.equal(other.reservations(), []);
      assert.equal(hostState(), before);
    }, 'uy');
  });
});

test.run();
