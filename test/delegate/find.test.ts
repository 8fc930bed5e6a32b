import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPlugin } from '../../src/delegate/find';
import { DEBIAN_CNI, removeDir, tempDir, throwsCni } from './helpers/kit';

test('finds a real Debian plugin', () => {
  assert.is(findPlugin('bridge', `/nonexistent:${DEBIAN_CNI}`), `${DEBIAN_CNI}/bridge`);
});

test('first directory in CNI_PATH wins; empty entries are skipped', () => {
  const dir = tempDir('find');
  try {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    mkdirSync(a);
    mkdirSync(b);
    for (const d of [a, b]) {
      writeFileSync(join(d, 'plug'), '#!/bin/sh\n');
      chmodSync(join(d, 'plug'), 0o755);
    }
    assert.is(findPlugin('plug', `::${b}:${a}:`), join(b, 'plug'));
  } finally {
    removeDir(dir);
  }
});

test('skips non-executable files and directories of that name', () => {
  const dir = tempDir('find');
  try {
    const noexec = join(dir, 'noexec');
    const isdir = join(dir, 'isdir');
    const good = join(dir, 'good');
    for (const d of [noexec, isdir, good]) mkdirSync(d);
    writeFileSync(join(noexec, 'plug'), '#!/bin/sh\n', { mode: 0o644 });
    mkdirSync(join(isdir, 'plug'));
    writeFileSync(join(good, 'plug'), '#!/bin/sh\n', { mode: 0o755 });
    assert.is(findPlugin('plug', [noexec, isdir, good].join(':')), join(good, 'plug'));
    const e = throwsCni(() => findPlugin('plug', [noexec, isdir].join(':')));
    assert.is(e.code, 7);
  } finally {
    removeDir(dir);
  }
});

test('invalid type: code 7', () => {
  for (const bad of ['', '.', '..', '../bridge', '/usr/lib/cni/bridge', 'a/b', 'x\0y']) {
    const e = throwsCni(() => findPlugin(bad, DEBIAN_CNI));
    assert.is(e.code, 7, JSON.stringify(bad));
    assert.match(e.message, /invalid plugin type .*without "\/"/);
  }
});

test('not found: code 7, names the plugin and the searched path', () => {
  const e = throwsCni(() => findPlugin('uxd-no-such-plugin', `${DEBIAN_CNI}:/opt/nothing`));
  assert.is(e.code, 7);
  assert.is(e.message, `failed to find plugin "uxd-no-such-plugin" in path [${DEBIAN_CNI} /opt/nothing]`);
  assert.is(throwsCni(() => findPlugin('bridge', '')).message, 'failed to find plugin "bridge" in path []');
});

test.run();
