import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLUGIN, runPlugin } from '../helpers/plugin';

const ALL = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

test('VERSION answers in the asked version with all supported versions', () => {
  for (const v of ALL) {
    const r = runPlugin({ CNI_COMMAND: 'VERSION' }, { cniVersion: v });
    assert.is(r.status, 0, r.stderr);
    assert.equal(r.json, { cniVersion: v, supportedVersions: ALL });
  }
});

test('VERSION with empty stdin answers with the newest version', () => {
  const r = runPlugin({ CNI_COMMAND: 'VERSION' }, '');
  assert.equal(r.json, { cniVersion: '1.1.0', supportedVersions: ALL });
});

test('no CNI_COMMAND (or an empty one) prints the about text on stderr and exits 0', () => {
  for (const cmd of [undefined, '']) {
    const r = runPlugin({ CNI_COMMAND: cmd }, '');
    assert.is(r.status, 0);
    assert.is(r.stdout, '');
    assert.match(r.stderr, /userns-netns plugin version \S+/);
    assert.match(r.stderr, /0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/);
  }
});

test('the single file works when copied alone into an empty directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uxn-alone-'));
  try {
    const alone = join(dir, 'userns-netns');
    copyFileSync(PLUGIN, alone);
    const r = runPlugin({ CNI_COMMAND: 'VERSION' }, { cniVersion: '1.0.0' }, { plugin: alone });
    assert.is(r.status, 0, r.stderr);
    assert.equal(r.json.supportedVersions, ALL);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
