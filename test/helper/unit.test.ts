// build/install.sh --with-helper: the systemd unit, pointing at the installed plugin (into a
// private directory; never enabled or started here).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../helpers/plugin';

test('install.sh --with-helper installs the unit naming the installed plugin; systemd-analyze verifies it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uxn-unit-'));
  try {
    const bin = join(dir, 'bin');
    const units = join(dir, 'units');
    const r = spawnSync(join(REPO, 'build', 'install.sh'), ['--no-build', '--dest', bin, '--with-helper', '--unitdir', units], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    const unit = join(units, 'userns-netns-helper.service');
    const text = readFileSync(unit, 'utf8');
    assert.match(text, `ExecStart=${bin}/userns-netns serve --socket /run/userns-netns/helper.sock`);
    assert.not.match(text, '@DEST@');
    assert.is(statSync(unit).mode & 0o777, 0o644);
    const analyze = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    if (analyze.error) {
      console.warn('systemd-analyze not available: unit not verified');
      return;
    }
    assert.is(analyze.status, 0, analyze.stderr);
    assert.not.match(analyze.stderr, /userns-netns-helper/, analyze.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
