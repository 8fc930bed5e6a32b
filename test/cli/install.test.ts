// build/install.sh into private directories (never /opt/cni/bin or /etc/cni/net.d here).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARTIFACTS, REPO } from '../helpers/plugin';

const run = (args: string[]) => spawnSync(join(REPO, 'build', 'install.sh'), args, { encoding: 'utf8' });

function withDir(fn: (dir: string) => void | Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'uxn-install-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'installs the self-contained file for this host and an example conflist; refuses to overwrite the conflist',
  withDir((dir) => {
    const bin = join(dir, 'bin');
    const conf = join(dir, 'net.d');
    const r = run(['--no-build', '--dest', bin, '--conflist', '10-userns-bridge', '--confdir', conf]);
    assert.is(r.status, 0, r.stderr);
    const installed = join(bin, 'userns-netns');
    assert.ok(readFileSync(installed).equals(readFileSync(ARTIFACTS.sea)), 'the amd64 self-contained file (this host is x86-64)');
    const st = statSync(installed);
    assert.is(st.mode & 0o777, 0o755);
    assert.is(st.uid, 0);
    assert.is(st.gid, 0);
    assert.equal(JSON.parse(readFileSync(join(conf, '10-userns-bridge.conflist'), 'utf8')).name, 'userns-bridge');
    // No Node on PATH at all: the self-contained file needs none.
    const about = spawnSync(installed, [], { encoding: 'utf8', env: { PATH: '/nonexistent' } });
    assert.is(about.status, 0, about.stderr);
    assert.match(about.stderr, /^CNI userns-netns plugin version/);
    const again = run(['--no-build', '--dest', bin, '--conflist', '10-userns-bridge', '--confdir', conf]);
    assert.is.not(again.status, 0);
    assert.match(again.stderr, /exists \(use --force/);
    assert.is(run(['--no-build', '--dest', bin, '--conflist', '10-userns-bridge', '--confdir', conf, '--force']).status, 0);
    assert.match(run(['--no-build', '--dest', bin, '--conflist', 'nope']).stderr, /no conflist nope/);
  }),
);

test(
  '--node-script installs the Node-script file, which runs outside dist/ as CommonJS',
  withDir((dir) => {
    const bin = join(dir, 'bin');
    const r = run(['--no-build', '--node-script', '--dest', bin]);
    assert.is(r.status, 0, r.stderr);
    assert.ok(readFileSync(join(bin, 'userns-netns')).equals(readFileSync(ARTIFACTS.script)));
    assert.is(statSync(join(bin, 'userns-netns')).mode & 0o777, 0o755);
    const about = spawnSync(join(bin, 'userns-netns'), [], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.is(about.status, 0, about.stderr);
    assert.match(about.stderr, /^CNI userns-netns plugin version/);
  }),
);

test(
  'a copy that is running is replaced by rename, never written in place',
  withDir(async (dir) => {
    const bin = join(dir, 'bin');
    assert.is(run(['--no-build', '--node-script', '--dest', bin]).status, 0);
    const installed = join(bin, 'userns-netns');
    const before = statSync(installed).ino;
    // An old copy mid-call: a VERSION waiting for its stdin, which we hold open.
    const old = spawn(installed, [], { env: { PATH: process.env.PATH, CNI_COMMAND: 'VERSION' }, stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = run(['--no-build', '--dest', bin]);
      assert.is(r.status, 0, r.stderr);
      assert.is.not(statSync(installed).ino, before, 'a new inode at the path');
      assert.ok(readFileSync(installed).equals(readFileSync(ARTIFACTS.sea)));
      // The old process is unharmed and finishes its call from its own file.
      let out = '';
      old.stdout!.on('data', (d) => (out += d));
      const done = new Promise<number | null>((resolve) => old.on('exit', resolve));
      old.stdin!.end('{"cniVersion":"1.0.0"}');
      assert.is(await done, 0);
      assert.is(JSON.parse(out).cniVersion, '1.0.0');
    } finally {
      if (old.exitCode === null) old.kill('SIGKILL');
    }
  }),
);

test.run();
