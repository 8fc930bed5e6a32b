// GC keeps what the runtime lists and releases the rest; STATUS says whether ADD can work;
// the per-attachment lock serializes and times out with code 11.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostState, sh, withNet } from '../helpers/host';
import { PLUGIN, mutantEnv } from '../helpers/plugin';

const HOLD_LOCK = join(import.meta.dirname, '..', 'state', 'fixtures', 'hold-lock.mts');
const recordFile = (dataDir: string, net: string, cid: string) => join(dataDir, 'records', `${net}+${cid}+eth0.json`);

test('GC keeps the listed attachments working and releases all others, including a record from an earlier boot', async () => {
  await withNet(async (net) => {
    const before = hostState();
    const conf = net.conf('1.1.0');
    const [keep, drop, rebooted] = [net.attachment(), net.attachment(), net.attachment()];
    const results = new Map<string, any>();
    for (const a of [keep, drop, rebooted]) {
      const r = net.run('ADD', a, conf);
      assert.is(r.status, 0, r.stdout);
      results.set(a.containerId, r.json);
    }
    // Simulate a reboot for one attachment: another boot id in its record, and (as a reboot
    // would) its pins gone. Its host-local reservation is still on disk.
    const file = recordFile(net.dataDir, net.name, rebooted.containerId);
    const rec = JSON.parse(readFileSync(file, 'utf8'));
    rec.bootId = '00000000-0000-4000-8000-000000000000';
    writeFileSync(file, JSON.stringify(rec));
    for (const p of [rebooted.netnsPin, rebooted.usernsPin]) {
      sh('umount', ['-l', p]);
      sh('rm', ['-f', p]);
    }
    assert.is(net.reservations().length, 3);

    const gc = net.run('GC', { containerId: '' }, { ...conf, 'cni.dev/valid-attachments': [{ containerID: keep.containerId, ifname: 'eth0' }] }, { CNI_CONTAINERID: '', CNI_IFNAME: '', CNI_NETNS: '' });
    assert.is(gc.status, 0, gc.stdout);
    assert.is(net.reservations().length, 1, 'only the kept reservation');
    assert.ok(existsSync(recordFile(net.dataDir, net.name, keep.containerId)));
    assert.not.ok(existsSync(recordFile(net.dataDir, net.name, drop.containerId)));
    assert.not.ok(existsSync(file));
    assert.not.ok(existsSync(drop.netnsPin) || existsSync(drop.usernsPin));
    assert.is(net.run('CHECK', keep, { ...conf, prevResult: results.get(keep.containerId) }).status, 0, 'the kept one still passes CHECK');
    assert.is(net.vethsOnBridge().length, 1);

    // cnitool gc sends no list at all: nothing is valid.
    const gc2 = net.run('GC', { containerId: '' }, conf, { CNI_CONTAINERID: '', CNI_IFNAME: '', CNI_NETNS: '' });
    assert.is(gc2.status, 0, gc2.stdout);
    assert.equal(net.reservations(), []);
    assert.equal(hostState(), before);
  });
});

test('GC of a damaged record releases its reservation and the pins it proves ours', async () => {
  await withNet(async (net) => {
    const before = hostState();
    const conf = net.conf('1.1.0');
    const a = net.attachment();
    assert.is(net.run('ADD', a, conf).status, 0);
    // Damage the record but leave its netns/userns parts readable (as a torn edit would).
    const file = recordFile(net.dataDir, net.name, a.containerId);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"schemaVersion":1', '"schemaVersion":"garbage"'));
    const gc = net.run('GC', { containerId: '' }, conf, { CNI_CONTAINERID: '', CNI_IFNAME: '', CNI_NETNS: '' });
    assert.is(gc.status, 0, gc.stdout);
    assert.equal(net.reservations(), []);
    assert.not.ok(existsSync(file));
    assert.equal(hostState(), before);
  });
});

test("GC never removes pins that no record of its own data dir proves ours (another network's live pins stay)", async () => {
  await withNet(async (net) => {
    const conf = net.conf('1.1.0');
    const a = net.attachment();
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0);
    // Another network with its own data dir: its GC knows nothing of ours.
    const other = { ...conf, name: `${net.name}x`, dataDir: join(net.dir, 'other-data') };
    const gc = net.run('GC', { containerId: '' }, other, { CNI_CONTAINERID: '', CNI_IFNAME: '', CNI_NETNS: '' });
    assert.is(gc.status, 0, gc.stdout);
    assert.is(net.run('CHECK', a, { ...conf, prevResult: add.json }).status, 0, 'still fully working');
    assert.is(net.run('DEL', a, conf).status, 0);
  });
});

test('STATUS passes on a healthy setup, fails with 50 for a missing delegate or a read-only data dir', async () => {
  await withNet(async (net) => {
    const env = { CNI_CONTAINERID: '', CNI_IFNAME: '', CNI_NETNS: '' };
    const ok = net.run('STATUS', { containerId: '' }, net.conf('1.1.0'), env);
    assert.is(ok.status, 0, ok.stdout);
    assert.is(ok.stdout, '');

    const missing = net.run('STATUS', { containerId: '' }, net.conf('1.1.0', {}, [{ type: 'no-such-plugin' }]), env);
    assert.is(missing.json.code, 50);
    assert.match(missing.json.msg, 'no-such-plugin');

    const ro = join(net.dir, 'ro-data');
    mkdirSync(ro, { mode: 0o700 });
    sh('mount', ['--bind', ro, ro]);
    try {
      sh('mount', ['-o', 'remount,ro,bind', ro]);
      const r = net.run('STATUS', { containerId: '' }, net.conf('1.1.0', { dataDir: ro }), env);
      assert.is(r.json.code, 50);
      assert.match(r.json.msg, `data directory ${ro} is not writable`);
    } finally {
      sh('umount', [ro]);
    }
  });
});

test('the per-attachment lock: a holder past lockTimeoutMs gives code 11 and changes nothing', async () => {
  await withNet(async (net) => {
    const conf = net.conf('1.0.0', { lockTimeoutMs: 300 });
    const a = net.attachment();
    // Create the data dir layout the way the plugin does, then hold the attachment's lock.
    assert.is(net.run('DEL', a, conf).status, 0);
    const lockDir = join(net.dataDir, 'locks');
    mkdirSync(lockDir, { recursive: true, mode: 0o700 });
    const lockFile = join(lockDir, `${net.name}+${a.containerId}+eth0.lock`);
    // One process holding the lock (and named by /proc/locks as its holder: a `flock -x 9`
    // run by a shell would be named, not the shell holding fd 9).
    const holder = spawn(process.execPath, ['--import', 'tsx', HOLD_LOCK, lockFile, '5000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
        holder.once('exit', (code) => reject(new Error(`lock holder exited early with ${code}`)));
      });
      const r = net.run('ADD', a, conf);
      assert.is(r.json?.code, 11, r.stdout);
      assert.match(r.json.msg, 'timed out');
      assert.match(r.json.msg, `waiting for lock ${lockFile} (held by pid ${holder.pid})`, 'names the lock and its holder');
      assert.not.ok(existsSync(a.netnsPin));
      assert.equal(net.reservations(), []);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
    assert.is(net.run('ADD', a, conf).status, 0, 'works once the lock is free');
    assert.is(net.run('DEL', a, conf).status, 0);
  });
});

test('50 parallel ADDs then 50 parallel DELs on one bridge: all succeed, IPs and id blocks distinct, nothing left', async () => {
  await withNet(async (net) => {
    const before = hostState();
    // The allocator (a pool of this test's own), so every attachment gets its own id block.
    // 2 cores, 50 Node processes: the allocation lock is held for ms but waited on for seconds.
    const conf = net.conf('1.0.0', { allocator: { start: Math.floor(net.hostID / 65536) * 65536, count: 64 }, lockTimeoutMs: 60000 });
    delete conf.idMappings;
    const atts = Array.from({ length: 50 }, () => net.attachment());
    const runAsync = (cmd: string, a: (typeof atts)[number]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const env = { PATH: process.env.PATH!, ...mutantEnv(), CNI_COMMAND: cmd, CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netnsPin, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' };
        const child = spawn(PLUGIN, [], { env });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stdin.end(JSON.stringify(conf));
        // 'close', not 'exit': at 'exit' the last of stdout may still be unread (seen at 50 at once).
        child.on('close', (code) => resolve({ code, out }));
      });
    const adds = await Promise.all(atts.map((a) => runAsync('ADD', a)));
    const failed = adds.filter((r) => r.code !== 0);
    assert.equal(
      failed.map((r) => r.out),
      [],
      'no ADD failed',
    );
    const ips = adds.map((r) => JSON.parse(r.out).ips[0].address);
    assert.is(new Set(ips).size, 50, 'distinct IPs');
    assert.is(net.reservations().length, 50);
    const blocks = atts.map((a) => JSON.parse(readFileSync(recordFile(net.dataDir, net.name, a.containerId), 'utf8')).allocation.hostID);
    assert.is(new Set(blocks).size, 50, 'distinct id blocks');
    assert.ok(
      blocks.every((b) => b % 65536 === 0),
      'aligned',
    );
    const dels = await Promise.all(atts.map((a) => runAsync('DEL', a)));
    assert.equal(
      dels.filter((r) => r.code !== 0).map((r) => r.out),
      [],
    );
    assert.equal(net.reservations(), []);
    assert.equal(net.vethsOnBridge(), []);
    assert.equal(readdirSync(join(net.dataDir, 'records')), []);
    assert.equal(JSON.parse(readFileSync(join(net.dataDir, 'allocations.json'), 'utf8')).blocks, [], 'every block released');
    assert.equal(hostState(), before);
  });
});

test.run();
