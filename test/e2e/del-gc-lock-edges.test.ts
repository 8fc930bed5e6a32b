// The attachment's lock as DEL and GC meet it at its edges (del.ts, gc.ts): GC past
// lockTimeoutMs on an attachment someone holds reports it (11) and still releases the others; a
// DEL on a read-only data dir with no lock file to open runs unlocked, so that the delegates and
// pins are released at once and only the record's removal waits for a writable data dir.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { holdFlock } from '../helpers/flock-holder';
import { sh, withNet, type TestNet } from '../helpers/host';

const recordPath = (n: TestNet, containerId: string) => join(n.dataDir, 'records', `${n.name}+${containerId}+eth0.json`);
const lockPath = (n: TestNet, containerId: string) => join(n.dataDir, 'locks', `${n.name}+${containerId}+eth0.lock`);

test('GC past lockTimeoutMs on a held attachment: code 11 naming its lock; the others are released, the held one by a later GC', async () => {
  await withNet(async (n) => {
    const conf = { ...n.conf('1.1.0', { lockTimeoutMs: 300 }), 'cni.dev/valid-attachments': [] };
    const [held, free] = [n.attachment(), n.attachment()];
    for (const a of [held, free]) assert.is(n.run('ADD', a, conf).status, 0);
    const holder = await holdFlock(lockPath(n, held.containerId)); // an ADD or DEL of it in flight
    try {
      const gc = n.run('GC', held, conf);
      assert.is(gc.json?.code, 11, gc.stdout);
      assert.match(gc.json.msg, `waiting for lock ${lockPath(n, held.containerId)}`);
      assert.not.ok(existsSync(recordPath(n, free.containerId)), 'the free one released');
      assert.ok(existsSync(recordPath(n, held.containerId)), 'the held one left to its holder');
    } finally {
      await holder.release();
    }
    assert.is(n.run('GC', held, conf).status, 0);
    assert.not.ok(existsSync(recordPath(n, held.containerId)));
    assert.equal(n.reservations(), []);
  });
});

test('DEL on a read-only data dir with no lock file to open: unlocked, it releases IP and pins at once (5: the record stays); writable again, DEL finishes', async () => {
  await withNet(async (n) => {
    const conf = n.conf();
    const a = n.attachment();
    mkdirSync(n.dataDir, { recursive: true, mode: 0o700 });
    sh('mount', ['--bind', n.dataDir, n.dataDir]);
    try {
      assert.is(n.run('ADD', a, conf).status, 0);
      unlinkSync(lockPath(n, a.containerId)); // a data dir an older version wrote: no lock file
      sh('mount', ['-o', 'remount,ro,bind', n.dataDir]);
      const del = n.run('DEL', a, conf);
      assert.is(del.json?.code, 5, del.stdout);
      assert.equal(n.reservations(), [], 'the IP released');
      assert.not.ok(existsSync(a.netnsPin), 'the pins removed');
      sh('mount', ['-o', 'remount,rw,bind', n.dataDir]);
      assert.is(n.run('DEL', a, conf).status, 0);
      assert.not.ok(existsSync(recordPath(n, a.containerId)));
    } finally {
      sh('umount', ['-l', n.dataDir], { allowFail: true });
    }
  });
});

test.run();
