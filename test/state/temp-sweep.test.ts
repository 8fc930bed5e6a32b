// sweepTempFiles (atomic-file.ts) runs over records-tmp/ and over records/ itself (where older
// versions made their temp files): it may remove a stale temp file of a killed writer and
// nothing else - never a record, however old, and never something that only looks like a temp file.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../src/cni/errors';
import { sweepTempFiles } from '../../src/state/atomic-file';
import { expectCniError, withTempDir } from './helpers';

const HOUR_AGO = new Date(Date.now() - 3600_000);

test('only stale temp files go: old records and other old files stay', () =>
  withTempDir((dir) => {
    const keep = ['net1+c1+eth0.json', 'README', '.hidden', 'x.json.1.ab.tmp', '.net1+c2+eth0.json'];
    const stale = '.net1+c1+eth0.json.12.0123abcd.tmp';
    for (const n of [...keep, stale]) {
      fs.writeFileSync(path.join(dir, n), 'x', { mode: 0o600 });
      fs.utimesSync(path.join(dir, n), HOUR_AGO, HOUR_AGO);
    }
    assert.is(sweepTempFiles(dir), 1);
    assert.equal(fs.readdirSync(dir).sort(), [...keep].sort());
  }));

test('a symlink or a directory with a temp name is left alone, and the link target untouched', () =>
  withTempDir((dir) => {
    const target = path.join(dir, 'target');
    fs.writeFileSync(target, 'precious');
    const link = path.join(dir, '.a.json.1.0123abcd.tmp');
    fs.symlinkSync(target, link);
    fs.lutimesSync(link, HOUR_AGO, HOUR_AGO);
    const sub = path.join(dir, '.b.json.1.0123abcd.tmp');
    fs.mkdirSync(sub);
    fs.utimesSync(sub, HOUR_AGO, HOUR_AGO);
    assert.is(sweepTempFiles(dir), 0);
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.ok(fs.lstatSync(sub).isDirectory());
    assert.is(fs.readFileSync(target, 'utf8'), 'precious');
  }));

test('a missing directory sweeps nothing; one that cannot be listed is code 5 naming it and the errno', () =>
  withTempDir(async (dir) => {
    assert.is(sweepTempFiles(path.join(dir, 'missing')), 0);
    const file = path.join(dir, 'file');
    fs.writeFileSync(file, '');
    const err = await expectCniError(ErrorCode.IoFailure, () => sweepTempFiles(file));
    assert.is(err.message, `cannot list ${file}: ENOTDIR`);
  }));

test.run();
