// RecordStore (record-store.ts) as each plugin call meets it: a new store object on a data dir
// an earlier call (or an older version) left behind, and the listing, sweeping and reading
// paths the everyday tests do not take.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../src/cni/errors';
import { type AttachmentKey, RecordStore, isCorrupt } from '../../src/state/record-store';
import { expectCniError, withTempDir } from './helpers';

interface Rec {
  schema: 1;
  ip: string;
}
const isRec = (x: unknown): x is Rec => typeof x === 'object' && x !== null && (x as Rec).schema === 1 && typeof (x as Rec).ip === 'string';
const k = (containerId: string, ifname = 'eth0', network = 'net1'): AttachmentKey => ({ network, containerId, ifname });

test('a new store (the next plugin call) sweeps the temp files a killed writer of that key left', () =>
  withTempDir((dir) => {
    new RecordStore<Rec>(dir, { validate: isRec }).put(k('c1'), { schema: 1, ip: '10.0.0.2' });
    const next = new RecordStore<Rec>(dir, { validate: isRec });
    const leftover = '.net1+c1+eth0.json.4242.0123abcd.tmp';
    fs.writeFileSync(path.join(next.tempDir, leftover), 'half', { mode: 0o600 });
    next.sweepTemp(k('c1'));
    assert.equal(fs.readdirSync(next.tempDir), []);
    fs.writeFileSync(path.join(next.tempDir, leftover), 'half', { mode: 0o600 });
    const third = new RecordStore<Rec>(dir, { validate: isRec });
    assert.is(third.delete(k('c1')), true);
    assert.equal(fs.readdirSync(third.tempDir), [], 'delete sweeps them too');
  }));

test('a data dir from before records-tmp/ existed: get, delete and sweepTemp work without it', () =>
  withTempDir((dir) => {
    const records = path.join(dir, 'records');
    fs.mkdirSync(records, { mode: 0o700 });
    fs.writeFileSync(path.join(records, 'net1+c1+eth0.json'), JSON.stringify({ schema: 1, ip: '10.0.0.2' }), { mode: 0o600 });
    const store = new RecordStore<Rec>(dir, { validate: isRec });
    assert.equal(store.get(k('c1')), { schema: 1, ip: '10.0.0.2' });
    store.sweepTemp(k('c1'));
    assert.is(store.delete(k('c1')), true);
    assert.equal(fs.readdirSync(dir), ['records'], 'no records-tmp/ made by a removal');
  }));

test('on a data dir with no records yet: delete says false, list and keys are empty, nothing is created', () =>
  withTempDir((dir) => {
    const data = path.join(dir, 'data');
    const store = new RecordStore<Rec>(data, { validate: isRec });
    assert.is(store.delete(k('c1')), false);
    assert.equal(store.list(), []);
    assert.equal(store.keys(), []);
    assert.not.ok(fs.existsSync(data));
  }));

test('keys() lists every record key from the directory alone: a corrupt record counts, temp and foreign files do not', () =>
  withTempDir((dir) => {
    const store = new RecordStore<Rec>(dir, { validate: isRec });
    store.put(k('c2'), { schema: 1, ip: '10.0.0.3' });
    store.put(k('c1', 'net@1'), { schema: 1, ip: '10.0.0.2' });
    fs.writeFileSync(store.fileFor(k('bad')), 'not json', { mode: 0o600 });
    fs.writeFileSync(path.join(store.recordsDir, '.net1+c9+eth0.json.1.ab12.tmp'), 'half');
    fs.writeFileSync(path.join(store.recordsDir, 'README'), 'not a record');
    const sortKeys = (ks: AttachmentKey[]) => ks.map((x) => JSON.stringify(x)).sort();
    assert.equal(sortKeys(store.keys()), sortKeys([k('c2'), k('c1', 'net@1'), k('bad')]));
  }));

test('without a validator any JSON object is a record, and anything else is corrupt', () =>
  withTempDir((dir) => {
    const store = new RecordStore<object>(dir);
    store.put(k('obj'), { any: 'thing' });
    assert.equal(store.get(k('obj')), { any: 'thing' });
    for (const [id, content] of [
      ['num', '5'],
      ['str', '"x"'],
      ['bool', 'true'],
    ]) {
      fs.writeFileSync(store.fileFor(k(id!)), content!, { mode: 0o600 });
      const got = store.get(k(id!));
      assert.ok(isCorrupt(got), id);
      assert.is(isCorrupt(got) && got.error, 'does not have the shape of a record', id);
    }
  }));

test('a corrupt record says why: not JSON (with the parser message), or the wrong shape', () =>
  withTempDir((dir) => {
    const store = new RecordStore<Rec>(dir, { validate: isRec });
    store.put(k('ok'), { schema: 1, ip: '10.0.0.2' });
    fs.writeFileSync(store.fileFor(k('garbage')), '{"schema":', { mode: 0o600 });
    const got = store.get(k('garbage'));
    assert.ok(isCorrupt(got) && got.error.startsWith('not valid JSON: ') && got.error.length > 'not valid JSON: '.length, String(isCorrupt(got) && got.error));
    assert.ok(isCorrupt(got) && got.file === store.fileFor(k('garbage')));
  }));

test('put refuses a record failing validation naming its file, and writes nothing', () =>
  withTempDir(async (dir) => {
    const store = new RecordStore<Rec>(dir, { validate: isRec });
    const err = await expectCniError(ErrorCode.Internal, () => store.put(k('c1'), { schema: 2 } as unknown as Rec));
    assert.is(err.message, 'refusing to store a record that fails validation for net1+c1+eth0.json');
    assert.equal(fs.readdirSync(dir), []);
  }));

test('sweepLocks on a data dir without locks/ removes nothing; a locks/ that cannot be listed is code 5 naming it', () =>
  withTempDir(async (dir) => {
    assert.is(await new RecordStore<Rec>(path.join(dir, 'none')).sweepLocks(), 0);
    const data = path.join(dir, 'data');
    fs.mkdirSync(data, { mode: 0o700 });
    fs.writeFileSync(path.join(data, 'locks'), '');
    const store = new RecordStore<Rec>(data);
    const err = await expectCniError(ErrorCode.IoFailure, () => store.sweepLocks());
    assert.is(err.message, `cannot list ${store.locksDir}: ENOTDIR`);
  }));

test.run();
