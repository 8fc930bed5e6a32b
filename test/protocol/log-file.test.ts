// logFile is a path from a config file opened by root: a FIFO, a symlink, a file someone else
// owns or can write, or a directory others can write must not hang the verb nor be written
// to. The verb answers as usual; one line on stderr says why there is no log.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh } from '../helpers/host';
import { CNI_BIN, runPlugin } from '../helpers/plugin';
import { uniqueName } from '../helpers/unique';

const scratch = mkdtempSync(join(tmpdir(), 'uxn-log-')); // root-owned, 0700

/** DEL of a never-added attachment: logs start, no-record and done. */
function del(logFile: string) {
  const dataDir = join(scratch, uniqueName('d'));
  const t0 = Date.now();
  const r = runPlugin(
    { CNI_COMMAND: 'DEL', CNI_CONTAINERID: uniqueName('c'), CNI_NETNS: '', CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN },
    { cniVersion: '1.0.0', name: 'lognet', type: 'userns-netns', dataDir, logFile, logLevel: 'debug', delegates: [{ type: 'bridge' }] },
    { timeoutMs: 10_000 },
  );
  return { ...r, ms: Date.now() - t0 };
}

function expectSkipped(r: ReturnType<typeof del>, why: RegExp) {
  assert.is(r.status, 0, `DEL answered: ${r.stdout} ${r.stderr}`);
  assert.is(r.stdout, '', 'nothing but the result on stdout');
  assert.ok(r.ms < 8000, `answered promptly (${r.ms} ms)`);
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => l.includes('logFile'));
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0]!, why);
}

test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('a new logFile in a root-only directory is created 0600 and written', () => {
  const f = join(scratch, 'new.log');
  const r = del(f);
  assert.is(r.status, 0, r.stdout);
  assert.not.match(r.stderr, /logFile/);
  assert.is(lstatSync(f).mode & 0o777, 0o600);
  assert.ok(readFileSync(f, 'utf8').includes('"event":"no-record"'));
});

test('a FIFO: the verb does not hang, nothing is written', () => {
  const f = join(scratch, 'fifo.log');
  sh('mkfifo', ['-m', '0600', f]);
  expectSkipped(del(f), /FIFO/);
  assert.ok(lstatSync(f).isFIFO());
});

test('a symlink to a root-owned file: not followed, the target is untouched', () => {
  const target = join(scratch, 'target');
  writeFileSync(target, '', { mode: 0o600 });
  const f = join(scratch, 'link.log');
  symlinkSync(target, f);
  expectSkipped(del(f), /symbolic link/);
  assert.is(readFileSync(target, 'utf8'), '');
});

test('a file owned by another uid: not written', () => {
  const f = join(scratch, 'theirs.log');
  writeFileSync(f, '', { mode: 0o600 });
  chownSync(f, 12345, 12345);
  expectSkipped(del(f), /owned by uid 12345/);
  assert.is(readFileSync(f, 'utf8'), '');
});

test('a group-writable file: not written', () => {
  const f = join(scratch, 'groupw.log');
  writeFileSync(f, '');
  chmodSync(f, 0o620);
  expectSkipped(del(f), /writable by group or others/);
  assert.is(readFileSync(f, 'utf8'), '');
});

test('a directory others can write (sticky, like /tmp): no file created there', () => {
  const d = join(scratch, 'sticky');
  mkdirSync(d);
  chmodSync(d, 0o1777);
  const f = join(d, 'plugin.log');
  expectSkipped(del(f), /directory .* writable by group or others/);
  assert.not.ok(existsSync(f));
  // An existing root-owned 0600 file there is refused all the same: its name is not safe.
  writeFileSync(f, '', { mode: 0o600 });
  expectSkipped(del(f), /directory/);
  assert.is(readFileSync(f, 'utf8'), '');
});

test.run();
