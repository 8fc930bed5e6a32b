// The single file's run-time caches: koffi's addon and V8's code cache are written once to a
// root-only directory and trusted only from there; damage is survived, symlinks refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { CNI_BIN, runPlugin } from '../helpers/plugin';
import { uniqueName } from '../helpers/unique';

// A DEL of an attachment never added: loads koffi (for the lock), changes nothing else.
function del(cacheDir: string, dataDir: string) {
  return runPlugin(
    { CNI_COMMAND: 'DEL', CNI_CONTAINERID: uniqueName('c'), CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN, USERNS_NETNS_CACHE_DIR: cacheDir },
    { cniVersion: '1.0.0', name: 'cache-net', type: 'userns-netns', dataDir, delegates: [{ type: 'bridge' }] },
  );
}

function withDirs(fn: (cacheDir: string, dataDir: string) => void) {
  const base = join('/run', uniqueName('uxcache'));
  mkdirSync(base, { mode: 0o700 });
  try {
    fn(join(base, 'cache'), join(base, 'data'));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

test("first run writes the addon and the verb's code cache, root-only", () => {
  withDirs((cache, data) => {
    const r = del(cache, data);
    assert.is(r.status, 0, r.stdout);
    assert.is(statSync(cache).mode & 0o777, 0o700);
    const files = readdirSync(cache);
    const addon = files.find((f) => /^koffi-[0-9a-f]{32}\.node$/.test(f));
    const code = files.find((f) => /^code-[0-9a-f]{32}-v\d+\.\d+\.\d+-x64-DEL\.v8$/.test(f));
    assert.ok(addon && code, files.join(' '));
    for (const f of [addon!, code!]) assert.is(statSync(join(cache, f)).mode & 0o777, 0o600);
    assert.is(del(cache, data).status, 0, 'second run uses them');
  });
});

test('a damaged code cache is rejected by V8 and rewritten; the call still works', () => {
  withDirs((cache, data) => {
    assert.is(del(cache, data).status, 0);
    const code = readdirSync(cache).find((f) => f.startsWith('code-'))!;
    writeFileSync(join(cache, code), 'garbage');
    const r = del(cache, data);
    assert.is(r.status, 0, r.stdout);
    assert.ok(readFileSync(join(cache, code)).length > 1000, 'rewritten');
  });
});

test('a symlink planted at the addon path is refused, its target untouched', () => {
  withDirs((cache, data) => {
    assert.is(del(cache, data).status, 0);
    const addon = readdirSync(cache).find((f) => f.startsWith('koffi-'))!;
    rmSync(join(cache, addon));
    const target = join(cache, '..', 'target');
    writeFileSync(target, 'keep');
    symlinkSync(target, join(cache, addon));
    const r = del(cache, data);
    assert.is(r.json?.code, 5, r.stdout);
    assert.match(r.json.msg, 'is a symbolic link; refusing to follow it');
    assert.is(readFileSync(target, 'utf8'), 'keep');
  });
});

test('a FIFO planted at the code cache path is not waited on: the call compiles without it', () => {
  withDirs((cache, data) => {
    assert.is(del(cache, data).status, 0);
    const code = readdirSync(cache).find((f) => f.startsWith('code-'))!;
    rmSync(join(cache, code));
    execFileSync('mkfifo', ['-m', '0600', join(cache, code)]);
    const r = runPlugin(
      { CNI_COMMAND: 'DEL', CNI_CONTAINERID: uniqueName('c'), CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN, USERNS_NETNS_CACHE_DIR: cache },
      { cniVersion: '1.0.0', name: 'cache-net', type: 'userns-netns', dataDir: data, delegates: [{ type: 'bridge' }] },
      { timeoutMs: 15_000 },
    );
    assert.is(r.status, 0, `status ${r.status} (null: it hung on the FIFO) ${r.stdout}`);
    assert.ok(statSync(join(cache, code)).isFIFO(), 'left as it is, not replaced');
  });
});

test('a cache directory others can write to is not trusted', () => {
  withDirs((cache, data) => {
    mkdirSync(cache, { mode: 0o700 });
    chmodSync(cache, 0o777);
    const r = del(cache, data);
    assert.is(r.json?.code, 5, r.stdout);
    assert.match(r.json.msg, 'is writable by group or others (mode 0777)');
    assert.not.ok(existsSync(data), 'nothing else done');
  });
});

test.run();
