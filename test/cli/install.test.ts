// build/install.sh into private directories (never /opt/cni/bin or /etc/cni/net.d here).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLUGIN, REPO } from '../helpers/plugin';

const run = (args: string[]) => spawnSync(join(REPO, 'build', 'install.sh'), args, { encoding: 'utf8' });

test('installs the built file and an example conflist; refuses to overwrite the conflist', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uxn-install-'));
  try {
    const bin = join(dir, 'bin');
    const conf = join(dir, 'net.d');
    const r = run(['--no-build', '--dest', bin, '--conflist', '10-userns-bridge', '--confdir', conf]);
    assert.is(r.status, 0, r.stderr);
    assert.ok(readFileSync(join(bin, 'userns-netns')).equals(readFileSync(PLUGIN)));
    assert.is(statSync(join(bin, 'userns-netns')).mode & 0o777, 0o755);
    assert.equal(JSON.parse(readFileSync(join(conf, '10-userns-bridge.conflist'), 'utf8')).name, 'userns-bridge');
    // Outside dist/ there is no package.json: the file must still run as CommonJS.
    const about = spawnSync(join(bin, 'userns-netns'), [], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.is(about.status, 0, about.stderr);
    assert.match(about.stderr, /^CNI userns-netns plugin version/);
    const again = run(['--no-build', '--dest', bin, '--conflist', '10-userns-bridge', '--confdir', conf]);
    assert.is.not(again.status, 0);
    assert.match(again.stderr, /exists \(use --force/);
    assert.is(run(['--no-build', '--dest', bin, '--conflist', '10-userns-bridge', '--confdir', conf, '--force']).status, 0);
    assert.match(run(['--no-build', '--dest', bin, '--conflist', 'nope']).stderr, /no conflist nope/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
