// A unix socket where an attachment's record belongs (planted, or left by a broken tool): DEL
// and GC must still finish. Before, open()'s ENXIO surfaced as code 5 on every DEL, and GC
// failed on the listing, so nothing in the data dir was ever released again.
import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hostState, sh, withNet, type TestNet } from '../helpers/host';
import { socketAt } from '../helpers/unix-socket';

function recordPath(n: TestNet, containerId: string): string {
  return join(n.dataDir, 'records', `${n.name}+${containerId}+eth0.json`);
}

/** Replaces `file` by a unix socket nobody listens on. */
async function socketInsteadOf(file: string): Promise<void> {
  unlinkSync(file);
  await socketAt(file);
}

/** The pins of an attachment whose record is beyond salvage stay (nothing proves them ours): removed as the error message says. */
function removePins(a: { netnsPin: string; usernsPin: string }): void {
  for (const p of [a.netnsPin, a.usernsPin]) sh('sh', ['-c', `umount -l ${p}; rm -f ${p}`], { allowFail: true });
}

test('DEL of an attachment whose record is a socket answers 0, removes the socket and releases its IP', async () => {
  await withNet(async (n) => {
    const before = hostState();
    const conf = n.conf();
    const a = n.attachment();
    const add = n.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    assert.is(n.reservations().length, 1);
    await socketInsteadOf(recordPath(n, a.containerId));
    try {
      const del = n.run('DEL', a, conf);
      assert.is(del.status, 0, del.stdout);
      assert.not.ok(existsSync(recordPath(n, a.containerId)), 'the socket is gone');
      assert.equal(n.reservations(), [], "the delegates' DEL ran: host-local released the IP");
      assert.is(n.run('DEL', a, conf).status, 0, 'and DEL stays idempotent');
    } finally {
      removePins(a);
    }
    n.cleanup();
    assert.equal(hostState(), before);
  });
});

test('GC with a socket at one record path finishes: the others not in the valid list are released, the socket cleared', async () => {
  await withNet(async (n) => {
    const before = hostState();
    const conf = n.conf();
    const sock = n.attachment();
    const stale = n.attachment();
    for (const a of [sock, stale]) assert.is(n.run('ADD', a, conf).status, 0);
    await socketInsteadOf(recordPath(n, sock.containerId));
    try {
      const gc = n.run('GC', stale, { ...conf, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] });
      assert.is(gc.status, 0, gc.stdout);
      for (const a of [sock, stale]) assert.not.ok(existsSync(recordPath(n, a.containerId)), a.containerId);
      assert.not.ok(existsSync(stale.netnsPin), "the readable stale attachment's pins are gone");
      assert.equal(n.reservations(), []);
    } finally {
      removePins(sock);
      removePins(stale);
    }
    n.cleanup();
    assert.equal(hostState(), before);
  });
});

test.run();
