// `exec` runs a command as root inside a namespace: it enters only what it checked. By container
// id only a live attachment; by path only a netns whose user namespace root created (unless
// --allow-foreign-owner); and the command gets fds 0-2, nothing else.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { sh, withNet } from '../helpers/host';
import { PLUGIN } from '../helpers/plugin';
import { uniqueName } from '../helpers/unique';
import { op } from './helpers/run-operator';

/** The fds a shell run by exec holds, as `ls /proc/$$/fd` lists them. */
const fdsOf = (stdout: string) =>
  stdout
    .trim()
    .split(/\s+/)
    .map(Number)
    .sort((x, y) => x - y);

test('no fd above 2 reaches the command: neither the namespace fds nor fds exec inherited', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    assert.is(net.run('ADD', a, net.conf()).status, 0);
    for (const target of [a.netnsPin, a.containerId]) {
      const r = op(['exec', target, '--data-dir', net.dataDir, '--', 'sh', '-c', 'ls /proc/$$/fd']);
      assert.is(r.status, 0, r.stderr);
      assert.equal(fdsOf(r.stdout), [0, 1, 2], `${target}: ${r.stdout}`);
    }
    // A caller that leaks fds into exec (not close-on-exec, fds 3-5): they stop at exec.
    const leaked = openSync('/dev/null', 'r');
    try {
      const r = spawnSync(PLUGIN, ['exec', a.netnsPin, '--', 'sh', '-c', 'ls /proc/$$/fd'], {
        stdio: ['ignore', 'pipe', 'pipe', leaked, leaked, leaked],
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      });
      assert.is(r.status, 0, r.stderr);
      assert.equal(fdsOf(r.stdout), [0, 1, 2], r.stdout);
    } finally {
      closeSync(leaked);
    }
    assert.is(net.run('DEL', a, net.conf()).status, 0);
  });
});

test('by container id: a pin now holding another netns is not entered (exit 1, one line)', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    assert.is(net.run('ADD', a, net.conf()).status, 0);
    const other = uniqueName('uxo');
    sh('ip', ['netns', 'add', other]);
    try {
      // The stale pin reused: the attachment's pin path now holds a netns nobody recorded.
      sh('umount', [a.netnsPin]);
      sh('mount', ['--bind', `/run/netns/${other}`, a.netnsPin]);
      const r = op(['exec', a.containerId, '--data-dir', net.dataDir, '--', 'sh', '-c', 'echo entered']);
      assert.is(r.status, 1, r.stdout);
      assert.is(r.stdout, '', 'the command did not run');
      assert.match(r.stderr, /is not live: netns .* is inode \d+, recorded \d+/);
      assert.is(r.stderr.trim().split('\n').length, 1);
      sh('umount', [a.netnsPin]);
    } finally {
      sh('umount', [a.netnsPin], { allowFail: true });
      sh('ip', ['netns', 'del', other], { allowFail: true });
    }
    assert.is(net.run('DEL', a, net.conf()).status, 0);
  });
});

test('by container id: an attachment that is not ready (a DEL did not finish) is not entered', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    assert.is(net.run('ADD', a, net.conf()).status, 0);
    const file = `${net.dataDir}/records/${net.name}+${a.containerId}+eth0.json`;
    const rec = JSON.parse(sh('cat', [file]));
    sh('sh', ['-c', `cat > ${file}`], { input: JSON.stringify({ ...rec, phase: 'deleting' }) });
    const r = op(['exec', a.containerId, '--data-dir', net.dataDir, '--', 'true']);
    assert.is(r.status, 1);
    assert.match(r.stderr, /phase is "deleting"/);
    assert.is(net.run('DEL', a, net.conf()).status, 0);
  });
});

test('by path: a netns whose user namespace an unprivileged user created needs --allow-foreign-owner', async () => {
  // uid 12345 makes its own user namespace and a netns in it (no root involved).
  const holder = spawn('setpriv', ['--reuid', '12345', '--regid', '12345', '--clear-groups', 'unshare', '--user', '--net', '--map-root-user', 'sleep', '30'], { stdio: 'ignore' });
  try {
    const path = `/proc/${holder.pid}/ns/net`;
    for (let i = 0; i < 200 && readlinkSync(path) === readlinkSync('/proc/self/ns/net'); i++) await sleep(10);
    const r = op(['exec', path, '--', 'sh', '-c', 'echo entered']);
    assert.is(r.status, 1, r.stdout);
    assert.is(r.stdout, '', 'the command did not run');
    assert.match(r.stderr, /created by uid 12345, not root.*--allow-foreign-owner/);
    const ok = op(['exec', '--allow-foreign-owner', path, '--', 'sh', '-c', 'id -u; ls /proc/$$/fd']);
    assert.is(ok.status, 0, ok.stderr);
    assert.equal(fdsOf(ok.stdout), [0, 0, 1, 2], 'uid 0 there, and fds 0-2 only');
    assert.match(op(['exec', '--help']).stdout, /--allow-foreign-owner/);
  } finally {
    holder.kill('SIGKILL');
  }
});

test.run();
