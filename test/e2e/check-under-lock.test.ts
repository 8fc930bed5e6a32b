// CHECK and the attachment's lock (check.ts): a CHECK of an attachment never added writes
// nothing, not even the data dir; one that waited for the lock while its record went answers
// 3, as if it had come after the DEL; a record an interrupted ADD left is "not ready" (3); and
// on a read-only data dir CHECK still checks, unlocked (it writes nothing anyway).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { failpointEnv } from '../../src/attachment/failpoints';
import { holdFlock } from '../helpers/flock-holder';
import { sh, withNet, type TestNet } from '../helpers/host';
import { CNI_BIN, killedByFailpoint, type PluginRun, runPluginAsync } from '../helpers/plugin';

const recordPath = (n: TestNet, containerId: string) => join(n.dataDir, 'records', `${n.name}+${containerId}+eth0.json`);
const lockPath = (n: TestNet, containerId: string) => join(n.dataDir, 'locks', `${n.name}+${containerId}+eth0.lock`);

test('CHECK of an attachment never added: code 3, and no data dir, lock or record is made', async () => {
  await withNet((n) => {
    const a = n.attachment();
    const r = n.run('CHECK', a, { ...n.conf(), prevResult: { cniVersion: '1.0.0' } });
    assert.is(r.json?.code, 3, r.stdout);
    assert.not.ok(existsSync(n.dataDir), 'nothing written');
  });
});

test('CHECK waiting on the lock while the holder removes the record: code 3 naming the attachment', async () => {
  await withNet(async (n) => {
    const a = n.attachment();
    const conf = n.conf();
    const add = n.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    const held = await holdFlock(lockPath(n, a.containerId)); // as a DEL in progress holds it
    let check: Promise<PluginRun>;
    try {
      check = runPluginAsync({ CNI_COMMAND: 'CHECK', CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netnsPin, CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN }, { ...conf, prevResult: add.json });
      await new Promise((r) => setTimeout(r, 500)); // it found the record and waits for the lock
      unlinkSync(recordPath(n, a.containerId)); // what that DEL does last
    } finally {
      await held.release();
    }
    const r = await check;
    assert.is(r.status, 1, r.stdout);
    assert.equal(r.json, { cniVersion: '1.0.0', code: 3, msg: `CHECK: no attachment "${n.name}/${a.containerId}/eth0"` });
    // The record is gone by hand: release what it held as the DEL would have.
    for (const p of [a.netnsPin, a.usernsPin]) sh('sh', ['-c', `umount -l ${p}; rm -f ${p}`], { allowFail: true });
  });
});

test('CHECK of the record an interrupted ADD left: code 3, not ready, naming its phase', async () => {
  await withNet((n) => {
    const a = n.attachment();
    const conf = n.conf();
    const killed = n.run('ADD', a, conf, failpointEnv('add-after-pin', 'kill'));
    assert.ok(killedByFailpoint(killed), killed.stdout);
    const phase = JSON.parse(readFileSync(recordPath(n, a.containerId), 'utf8')).phase;
    assert.is.not(phase, 'ready');
    const r = n.run('CHECK', a, { ...conf, prevResult: { cniVersion: '1.0.0' } });
    assert.is(r.json?.code, 3, r.stdout);
    assert.is(r.json.msg, `CHECK: attachment "${n.name}/${a.containerId}/eth0" is not ready (phase ${phase})`);
    assert.is(n.run('DEL', a, conf).status, 0);
  });
});

test('CHECK on a read-only data dir with no lock file to open: checks (0), then the problem it finds (100), unlocked', async () => {
  await withNet(async (n) => {
    const a = n.attachment();
    const conf = n.conf();
    mkdirSync(n.dataDir, { recursive: true, mode: 0o700 });
    sh('mount', ['--bind', n.dataDir, n.dataDir]);
    try {
      const add = n.run('ADD', a, conf);
      assert.is(add.status, 0, add.stdout);
      // No lock file to open (a data dir an older version wrote): CHECK cannot create one.
      unlinkSync(lockPath(n, a.containerId));
      sh('mount', ['-o', 'remount,ro,bind', n.dataDir]);
      const ok = n.run('CHECK', a, { ...conf, prevResult: add.json });
      assert.is(ok.status, 0, ok.stdout);
      sh('umount', ['-l', a.netnsPin]);
      const bad = n.run('CHECK', a, { ...conf, prevResult: add.json });
      assert.is(bad.json?.code, 100, bad.stdout);
      sh('mount', ['-o', 'remount,rw,bind', n.dataDir]);
      assert.is(n.run('DEL', a, conf).status, 0);
    } finally {
      sh('umount', ['-l', n.dataDir], { allowFail: true });
    }
  });
});

test.run();
