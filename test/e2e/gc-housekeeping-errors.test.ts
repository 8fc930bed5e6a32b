// GC's housekeeping after the attachments (gc.ts): the orphan id blocks and the lock files. A
// step that cannot finish is one problem in GC's answer, named, and the steps after it still
// run: a symlink planted at a lock name, or an id table another process holds locked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { holdFlock } from '../helpers/flock-holder';
import { hostState, sh, withNet, type TestNet } from '../helpers/host';
import { CNI_BIN, type PluginRun, runPluginAsync } from '../helpers/plugin';

const locksDir = (n: TestNet) => join(n.dataDir, 'locks');
const lockName = (n: TestNet, containerId: string) => `${n.name}+${containerId}+eth0.lock`;
const gcConf = (conf: Record<string, unknown>) => ({ ...conf, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] });

test('a symlink at a lock name: GC answers 102 naming it, and still releases the stale attachment and sweeps the other lock files', async () => {
  await withNet(async (n) => {
    const before = hostState();
    const conf = n.conf();
    const stale = n.attachment();
    assert.is(n.run('ADD', stale, conf).status, 0);
    const target = join(n.dir, 'not-a-lock');
    const planted = join(locksDir(n), lockName(n, 'planted'));
    symlinkSync(target, planted);
    const leftover = join(locksDir(n), lockName(n, 'leftover'));
    writeFileSync(leftover, '', { mode: 0o600 }); // a lock file a killed plugin left

    const gc = n.run('GC', stale, gcConf(conf));
    assert.is(gc.json?.code, 102, gc.stdout);
    assert.match(gc.json.msg, /^GC: 1 problem\(s\): /);
    assert.match(gc.json.msg, `lock file ${planted} is a symbolic link`);
    assert.not.ok(existsSync(stale.netnsPin), 'the stale attachment was released');
    assert.equal(n.reservations(), []);
    assert.not.ok(existsSync(leftover), 'the leftover lock file was swept');
    assert.not.ok(existsSync(target), 'the symlink was not followed');

    unlinkSync(planted);
    assert.is(n.run('GC', stale, gcConf(conf)).status, 0, 'nothing else was wrong');
    n.cleanup();
    assert.equal(hostState(), before);
  });
});

test('the id table locked by another process past lockTimeoutMs: GC answers 11 naming the table, sweeps the lock files, and a later GC drops the orphan block', async () => {
  await withNet(async (n) => {
    const before = hostState();
    const conf = n.conf('1.0.0', { lockTimeoutMs: 300 });
    const a = n.attachment();
    const add = n.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    const table = join(n.dataDir, 'allocations.json');
    assert.match(readFileSync(table, 'utf8'), a.containerId);
    // The record removed by hand: its id block is an orphan only GC's table sweep finds.
    unlinkSync(join(n.dataDir, 'records', `${n.name}+${a.containerId}+eth0.json`));
    const leftover = join(locksDir(n), lockName(n, 'leftover'));
    writeFileSync(leftover, '', { mode: 0o600 });
    const held = await holdFlock(join(n.dataDir, 'allocations.lock'));
    try {
      const gc = n.run('GC', a, gcConf(conf));
      assert.is(gc.json?.code, 11, gc.stdout);
      assert.match(gc.json.msg, 'the id allocation table is busy');
      assert.not.ok(existsSync(leftover), 'the lock files were still swept');
      assert.match(readFileSync(table, 'utf8'), a.containerId, 'the block stays until the table is free');
    } finally {
      await held.release();
    }
    const again = n.run('GC', a, gcConf(conf));
    assert.is(again.status, 0, again.stdout);
    assert.not.match(readFileSync(table, 'utf8'), a.containerId, 'the orphan block is dropped');
    // What the removed record held, released by hand as an operator would (IP, pins).
    assert.is(n.run('DEL', a, conf).status, 0);
    for (const p of [a.netnsPin, a.usernsPin]) sh('sh', ['-c', `umount -l ${p}; rm -f ${p}`], { allowFail: true });
    n.cleanup();
    assert.equal(hostState(), before);
  });
});

test("GC waiting on an attachment's lock while its DEL removes the record: nothing left to release, GC answers 0", async () => {
  await withNet(async (n) => {
    const conf = n.conf('1.1.0');
    const a = n.attachment();
    const add = n.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    const held = await holdFlock(join(locksDir(n), lockName(n, a.containerId))); // as that DEL holds it
    let gc: Promise<PluginRun>;
    try {
      gc = runPluginAsync({ CNI_COMMAND: 'GC', CNI_PATH: CNI_BIN }, gcConf(conf));
      await new Promise((r) => setTimeout(r, 500)); // GC listed the record and waits for its lock
      unlinkSync(join(n.dataDir, 'records', `${n.name}+${a.containerId}+eth0.json`)); // what the DEL does last
    } finally {
      await held.release();
    }
    const r = await gc;
    assert.is(r.status, 0, r.stdout);
    assert.is(r.stdout, '');
    for (const p of [a.netnsPin, a.usernsPin]) sh('sh', ['-c', `umount -l ${p}; rm -f ${p}`], { allowFail: true });
  });
});

test.run();
