import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CniError, ErrorCode } from '../../src/cni/errors';
import { currentBootId } from '../../src/state/boot-id';
import { type AttachmentKey, CorruptRecord, RecordStore, isCorrupt } from '../../src/state/record-store';
import { expectCniError, modeOf, withTempDir } from './helpers';

interface Rec {
  schema: 1;
  ip: string;
}
const isRec = (x: unknown): x is Rec => typeof x === 'object' && x !== null && (x as Rec).schema === 1 && typeof (x as Rec).ip === 'string';
const k = (containerId: string, ifname = 'eth0', network = 'net1'): AttachmentKey => ({ network, containerId, ifname });

test('put/get round trip: 0700 dirs, 0600 file, no temp files', () =>
  withTempDir((dir) => {
    const data = path.join(dir, 'data');
    const store = new RecordStore<Rec>(data, { validate: isRec });
    assert.is(store.get(k('c1')), undefined);
    assert.not.ok(fs.existsSync(data), 'reads create nothing');
    store.put(k('c1'), { schema: 1, ip: '10.0.0.2' });
    assert.equal(store.get(k('c1')), { schema: 1, ip: '10.0.0.2' });
    store.put(k('c1'), { schema: 1, ip: '10.0.0.3' });
    assert.equal(store.get(k('c1')), { schema: 1, ip: '10.0.0.3' });
    assert.is(modeOf(data), 0o700);
    assert.is(modeOf(store.recordsDir), 0o700);
    assert.is(modeOf(store.fileFor(k('c1'))), 0o600);
    assert.equal(fs.readdirSync(store.recordsDir), ['net1+c1+eth0.json']);
    assert.is(store.delete(k('c1')), true);
    assert.is(store.delete(k('c1')), false);
    assert.is(store.get(k('c1')), undefined);
    assert.equal(fs.readdirSync(store.recordsDir), []);
  }));

test('corrupt records are reported as corrupt, never thrown, and can be deleted', () =>
  withTempDir((dir) => {
    const store = new RecordStore<Rec>(dir, { validate: isRec });
    store.put(k('ok'), { schema: 1, ip: '10.0.0.9' });
    const cases: Record<string, string> = { garbage: '{"schema":1,"ip":', empty: '', wrongShape: '{"schema":2}', nul: '\0\0\0' };
    for (const [id, content] of Object.entries(cases)) {
      fs.writeFileSync(store.fileFor(k(id)), content, { mode: 0o600 });
      const got = store.get(k(id));
      assert.ok(isCorrupt(got), id);
      assert.ok(got instanceof CorruptRecord && got.corrupt === true && got.error.length > 0, id);
    }
    const untyped = new RecordStore<object>(dir);
    fs.writeFileSync(untyped.fileFor(k('null')), 'null');
    assert.ok(isCorrupt(untyped.get(k('null'))), 'without a validator, a non-object is corrupt');
    for (const id of Object.keys(cases)) assert.is(store.delete(k(id)), true);
    assert.equal(store.get(k('ok')), { schema: 1, ip: '10.0.0.9' });
  }));

test('list() returns every record with its key, corrupt ones flagged, temp and foreign files skipped', () =>
  withTempDir((dir) => {
    const store = new RecordStore<Rec>(dir, { validate: isRec });
    const keys = [k('c1'), k('c1', 'eth1'), k('c2', 'net+1', 'other.net'), k('c3', 'wlan@x')];
    keys.forEach((key, i) => {
      store.put(key, { schema: 1, ip: `10.0.0.${i + 2}` });
    });
    fs.writeFileSync(store.fileFor(k('bad')), 'not json');
    fs.writeFileSync(path.join(store.recordsDir, '.net1+c9+eth0.json.1.ab12.tmp'), 'half');
    fs.writeFileSync(path.join(store.recordsDir, 'README'), 'not a record');
    const listed = store.list();
    assert.is(listed.length, 5);
    const good = listed.filter((e) => !isCorrupt(e.record));
    assert.equal(
      good.map((e) => e.key).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      [...keys].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
    for (const e of good) assert.equal(store.get(e.key), e.record);
    const bad = listed.filter((e) => isCorrupt(e.record));
    assert.equal(
      bad.map((e) => e.key),
      [k('bad')],
    );
    assert.equal(new RecordStore<Rec>(path.join(dir, 'empty')).list(), []);
  }));

test('a symlink planted at the record path: put refuses, get says corrupt, delete removes only the link', () =>
  withTempDir(async (dir) => {
    const store = new RecordStore<Rec>(path.join(dir, 'data'), { validate: isRec });
    store.put(k('seed'), { schema: 1, ip: '10.0.0.1' }); // creates the dirs
    const victim = path.join(dir, 'victim.json');
    fs.writeFileSync(victim, JSON.stringify({ schema: 1, ip: '6.6.6.6' }));
    fs.symlinkSync(victim, store.fileFor(k('c1')));
    await expectCniError(ErrorCode.StateFailure, () => store.put(k('c1'), { schema: 1, ip: '10.0.0.2' }));
    assert.is(fs.readFileSync(victim, 'utf8'), JSON.stringify({ schema: 1, ip: '6.6.6.6' }));
    assert.ok(isCorrupt(store.get(k('c1'))), 'the link is not followed on read');
    assert.ok(store.list().some((e) => e.key.containerId === 'c1' && isCorrupt(e.record)));
    assert.is(store.delete(k('c1')), true);
    assert.ok(fs.existsSync(victim));
    assert.is(fs.readdirSync(store.recordsDir).length, 1);
  }));

test('a symlinked data dir or records dir is refused and nothing is written through it', () =>
  withTempDir(async (dir) => {
    const elsewhere = path.join(dir, 'elsewhere');
    fs.mkdirSync(elsewhere, { mode: 0o700 });
    fs.symlinkSync(elsewhere, path.join(dir, 'data-link'));
    const viaLink = new RecordStore<Rec>(path.join(dir, 'data-link'), { validate: isRec });
    await expectCniError(ErrorCode.StateFailure, () => viaLink.put(k('c1'), { schema: 1, ip: '10.0.0.2' }));
    assert.equal(fs.readdirSync(elsewhere), []);

    const data = path.join(dir, 'data');
    fs.mkdirSync(data, { mode: 0o700 });
    fs.symlinkSync(elsewhere, path.join(data, 'records'));
    fs.symlinkSync(elsewhere, path.join(data, 'locks'));
    const store = new RecordStore<Rec>(data, { validate: isRec });
    await expectCniError(ErrorCode.StateFailure, () => store.put(k('c1'), { schema: 1, ip: '10.0.0.2' }));
    await expectCniError(ErrorCode.StateFailure, () => store.get(k('c1')));
    await expectCniError(ErrorCode.StateFailure, () => store.list());
    await expectCniError(ErrorCode.StateFailure, () => store.lockFor(k('c1')));
    assert.equal(fs.readdirSync(elsewhere), []);
  }));

test('path traversal in key parts is rejected and creates nothing', () =>
  withTempDir(async (dir) => {
    const data = path.join(dir, 'data');
    const store = new RecordStore<Rec>(data, { validate: isRec });
    const rec: Rec = { schema: 1, ip: '10.0.0.2' };
    for (const key of [k('../../escape'), k('..'), k('c1', '../x'), k('c1', 'eth0', '../../x'), k('c1', 'eth0', '.'), k('a/b')]) {
      await expectCniError(ErrorCode.StateFailure, () => store.put(key, rec));
      await expectCniError(ErrorCode.StateFailure, () => store.get(key));
      await expectCniError(ErrorCode.StateFailure, () => store.delete(key));
      await expectCniError(ErrorCode.StateFailure, () => store.lockFor(key));
    }
    assert.equal(fs.readdirSync(dir), [], 'not even the data dir was created');
  }));

test('put refuses a record that fails the validator', () =>
  withTempDir(async (dir) => {
    const store = new RecordStore<Rec>(dir, { validate: isRec });
    await expectCniError(ErrorCode.Internal, () => store.put(k('c1'), { schema: 2 } as unknown as Rec));
    assert.is(store.get(k('c1')), undefined);
  }));

test('per-attachment locks live in <dataDir>/locks and serialize the same key only', () =>
  withTempDir(async (dir) => {
    const store = new RecordStore<Rec>(dir, { validate: isRec });
    const lockPath = store.lockFor(k('c1'));
    assert.is(path.dirname(lockPath), path.join(dir, 'locks'));
    assert.is(path.basename(lockPath), 'net1+c1+eth0.lock');
    assert.is(modeOf(path.join(dir, 'locks')), 0o700);
    store.put(k('c1'), { schema: 1, ip: '10.0.0.2' }); // a lock file stays only beside a record
    await store.withLock(k('c1'), { timeoutMs: 1000 }, async () => {
      await store.withLock(k('c2'), { timeoutMs: 100 }, () => {}); // a different attachment: no wait
      await expectCniError(ErrorCode.TryAgainLater, () => store.withLock(k('c1'), { timeoutMs: 100 }, () => {}));
    });
    assert.is(modeOf(lockPath), 0o600);
  }));

test('a lock file lives only as long as its record: no residue from DEL or CHECK of an unknown key', () =>
  withTempDir(async (dir) => {
    const store = new RecordStore<Rec>(dir, { validate: isRec });
    const lockPath = store.lockFor(k('c1'));
    for (let i = 0; i < 3; i++) await store.withLock(k('c1'), { timeoutMs: 1000 }, () => assert.ok(fs.existsSync(lockPath)));
    assert.not.ok(fs.existsSync(lockPath), 'no record: the lock file went at release');
    await store.withLock(k('c1'), { timeoutMs: 1000 }, () => store.put(k('c1'), { schema: 1, ip: '10.0.0.2' }));
    assert.ok(fs.existsSync(lockPath), 'a record was written: its lock file stays');
    await store.withLock(k('c1'), { timeoutMs: 1000 }, () => store.delete(k('c1')));
    assert.not.ok(fs.existsSync(lockPath), 'the record was deleted: so is its lock file');
    await expectCniError(ErrorCode.IoFailure, () =>
      store.withLock(k('c1'), { timeoutMs: 1000 }, () => {
        throw new CniError(ErrorCode.IoFailure, 'x');
      }),
    );
    assert.not.ok(fs.existsSync(lockPath), 'also when fn throws');
  }));

test('a waiter that locked an unlinked record-less lock file retries on the path and gets in', () =>
  withTempDir(async (dir) => {
    const store = new RecordStore<Rec>(dir, { validate: isRec });
    const order: string[] = [];
    let second: Promise<void> | undefined;
    await store.withLock(k('c1'), { timeoutMs: 1000 }, async () => {
      second = store.withLock(k('c1'), { timeoutMs: 5000 }, () => {
        order.push('second');
        store.put(k('c1'), { schema: 1, ip: '10.0.0.5' });
      });
      await new Promise((r) => setTimeout(r, 30)); // the second one is waiting on our inode
      order.push('first');
    });
    await second;
    assert.equal(order, ['first', 'second']);
    assert.ok(fs.existsSync(store.lockFor(k('c1'))), 'the second holder wrote a record: its lock stays');
    assert.equal(store.get(k('c1')), { schema: 1, ip: '10.0.0.5' });
  }));

test('sweepLocks removes lock files of keys without a record, under their lock, and nothing else', () =>
  withTempDir(async (dir) => {
    const store = new RecordStore<Rec>(dir, { validate: isRec });
    const stale = [store.lockFor(k('old1')), store.lockFor(k('old2', 'eth1'))];
    for (const p of stale) fs.writeFileSync(p, '', { mode: 0o600 }); // as older versions left them
    store.put(k('live'), { schema: 1, ip: '10.0.0.2' });
    const live = store.lockFor(k('live'));
    fs.writeFileSync(live, '', { mode: 0o600 });
    const foreign = path.join(store.locksDir, 'not-a-key.lock');
    fs.writeFileSync(foreign, '');
    let removed = -1;
    const held = store.lockFor(k('busy'));
    await store.withLock(k('busy'), { timeoutMs: 1000 }, async () => {
      removed = await store.sweepLocks(); // a held lock is its holder's to clean
      assert.ok(fs.existsSync(held));
    });
    assert.is(removed, 2);
    for (const p of stale) assert.not.ok(fs.existsSync(p), p);
    assert.ok(fs.existsSync(live), 'a key with a record keeps its lock');
    assert.ok(fs.existsSync(foreign), 'foreign names are left alone');
    assert.not.ok(fs.existsSync(held), 'and the busy one went when its holder released it');
  }));

test('sweepTemp matches its own key exactly: ifname eth0 never takes eth0.json.x temp files', () =>
  withTempDir((dir) => {
    const store = new RecordStore<Rec>(dir, { validate: isRec });
    store.put(k('c1'), { schema: 1, ip: '10.0.0.2' });
    const mine = `.${path.basename(store.fileFor(k('c1')))}.4194303.0123abcd.tmp`;
    const other = `.${path.basename(store.fileFor(k('c1', 'eth0.json.x')))}.77.89abcdef.tmp`;
    const look = `.${path.basename(store.fileFor(k('c1')))}.x.77.89abcdef.tmp`; // no key makes this
    for (const n of [mine, other, look]) fs.writeFileSync(path.join(store.tempDir, n), '');
    assert.ok(other.startsWith(`.${path.basename(store.fileFor(k('c1')))}.`), 'the collision the prefix match had');
    store.sweepTemp(k('c1'));
    assert.equal(fs.readdirSync(store.tempDir).sort(), [look, other].sort());
  }));

test('currentBootId is the kernel boot id', () => {
  const id = currentBootId();
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.is(id, fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
  assert.is(currentBootId(), id);
});

test('put() latency with fsyncs (journal budget: several puts per ADD)', () =>
  withTempDir((dir) => {
    // A record of realistic size: pins, mappings, two delegate results.
    const store = new RecordStore<object>(path.join(dir, 'data'));
    const record = {
      schema: 1,
      bootId: currentBootId(),
      mode: 'create',
      pins: { netns: '/run/netns/x', userns: '/run/userns/x', netnsIno: 4026532000, usernsIno: 4026532001 },
      mappings: { uid: [{ containerID: 0, hostID: 100000, size: 65536 }], gid: [{ containerID: 0, hostID: 100000, size: 65536 }] },
      delegates: [{ type: 'bridge', version: '1.0.0', result: { ips: [{ address: '10.88.0.2/16' }], interfaces: [{ name: 'cni0' }] } }],
      steps: Array.from({ length: 8 }, (_, i) => ({ step: `s${i}`, state: 'done' })),
    };
    const samples: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = process.hrtime.bigint();
      store.put(k(`c${i % 10}`), { ...record, seq: i });
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    samples.sort((a, b) => a - b);
    const q = (p: number) => samples[Math.floor(p * (samples.length - 1))]!.toFixed(3);
    console.log(`    put() on ${dir}: median ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${q(1)} ms (${JSON.stringify(record).length} bytes)`);
    assert.ok(samples[Math.floor(samples.length / 2)]! < 50, 'median put() stays well under the plugin budget');
  }));

test("record writes make their temp files in records-tmp/: sweepTemp(key) removes only that key's and never lists records/", () =>
  withTempDir((dir) => {
    const store = new RecordStore<Rec>(dir, { validate: isRec });
    store.put(k('c1'), { schema: 1, ip: '10.0.0.2' });
    assert.is(modeOf(store.tempDir), 0o700);
    assert.equal(fs.readdirSync(store.tempDir), [], 'renamed away');
    const mine = '.net1+c1+eth0.json.1.0123abcd.tmp';
    const other = '.net1+c10+eth0.json.1.0123abcd.tmp';
    for (const n of [mine, other]) fs.writeFileSync(path.join(store.tempDir, n), 'half');
    fs.rmSync(store.recordsDir, { recursive: true });
    fs.mkdirSync(store.recordsDir, { mode: 0o700 });
    const realReaddir = fs.readdirSync;
    const listed: string[] = [];
    (fs as { readdirSync: unknown }).readdirSync = (p: string, ...rest: unknown[]) => {
      listed.push(String(p));
      return (realReaddir as (...a: unknown[]) => unknown)(p, ...rest);
    };
    try {
      store.sweepTemp(k('c1'));
    } finally {
      (fs as { readdirSync: unknown }).readdirSync = realReaddir;
    }
    assert.equal(fs.readdirSync(store.tempDir), [other]);
    assert.equal(listed, [store.tempDir]);
  }));

test.run();
