// Whenever the helper provably did not start a call - no live helper, a refused peer, another
// build, an upgrade - the call runs in-process with the same answer; once it may have started
// it, the call is never run twice (a helper killed mid-ADD: code 11, and the DEL cleans up).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ARTIFACTS, runPlugin } from '../helpers/plugin';
import { hostState, withNet } from '../helpers/host';
import { runWithNonBlockingStdin } from '../helpers/nonblocking-stdin';
import { STDIN_LIMIT } from '../../src/cni/stdin';
import { calls, runAsync, startHelper, stopHelper, withHelper, type Helper } from './helpers/serve';
import { failpointEnv } from '../../src/attachment/failpoints';

const VERSION_ENV = { CNI_COMMAND: 'VERSION' };
const VERSION_IN = { cniVersion: '1.0.0' };
const inProcessVersion = () => runPlugin(VERSION_ENV, VERSION_IN).stdout;

/** What a helper answers a raw client's hello, as the client `asUid` (root when undefined). */
function rawHello(h: Helper, hash: string, asUid?: number): Record<string, any> {
  const client = `const s = require('node:net').connect(${JSON.stringify(h.socket)});
    s.on('connect', () => s.write(JSON.stringify({ v: 1, hash: ${JSON.stringify(hash)}, env: { CNI_COMMAND: 'VERSION' }, stdin: '' }) + '\\n'));
    let b = ''; s.on('data', (d) => { b += d; if (b.includes('\\n')) { process.stdout.write(b.split('\\n')[0]); s.destroy(); } });
    s.on('error', (e) => { process.stdout.write(JSON.stringify({ error: e.code })); });`;
  const cmd = asUid === undefined ? ['node', '-e', client] : ['setpriv', `--reuid=${asUid}`, `--regid=${asUid}`, '--clear-groups', 'node', '-e', client];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 10_000 });
  return JSON.parse(r.stdout || '{}');
}

const helperHash = (h: Helper): string => h.log().find((l) => l.event === 'start' && l.pid === h.proc.pid)!.hash;

test('a stale socket (its helper SIGKILLed): calls run in-process; serve replaces the socket', async () => {
  const h = await startHelper();
  try {
    h.proc.kill('SIGKILL');
    await h.exited;
    assert.ok(existsSync(h.socket), 'the dead helper left its socket');
    const r = runPlugin({ ...VERSION_ENV, ...h.env }, VERSION_IN);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, inProcessVersion());
    const again = await startHelper({ dir: h.dir }); // same socket path: the stale one is removed
    try {
      assert.is(runPlugin({ ...VERSION_ENV, ...again.env }, VERSION_IN).stdout, inProcessVersion());
      assert.is(calls(again).filter((c) => c.pid === again.proc.pid).length, 1, 'the new helper answered');
    } finally {
      stopHelper(again);
    }
  } finally {
    stopHelper(h);
  }
});

test('serve refuses a socket a live helper holds, and a directory that is not root-only', async () => {
  await withHelper(async (h) => {
    const second = spawnSync(ARTIFACTS.sea, ['serve', '--socket', h.socket], { encoding: 'utf8', timeout: 10_000 });
    assert.is(second.status, 1);
    assert.match(second.stderr, /already listening/);
    const open = mkdtempSync(join(tmpdir(), 'uxn-open-'));
    try {
      chmodSync(open, 0o755);
      const r = spawnSync(ARTIFACTS.sea, ['serve', '--socket', join(open, 'h.sock')], { encoding: 'utf8', timeout: 10_000 });
      assert.is(r.status, 1);
      assert.match(r.stderr, /mode 0755; the socket's directory must be mode 0700/);
      assert.equal(readdirSync(open), [], 'no socket created');
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });
});

test('the helper SIGKILLed mid-ADD: the shim answers 11 naming it (no second run); DEL in-process leaves nothing', async () => {
  await withHelper(async (h) => {
    await withNet(async (net) => {
      const before = hostState();
      const a = net.attachment();
      const conf = net.conf('1.0.0');
      const killed = net.run('ADD', a, conf, { ...h.env, ...failpointEnv('add-after-delegate-0', 'kill') });
      assert.is(killed.status, 1, killed.stdout);
      assert.is(killed.json.code, 11, killed.stdout);
      assert.match(killed.json.msg, h.socket);
      assert.equal((await h.exited).signal, 'SIGKILL', 'the failpoint killed the helper itself');
      assert.is(net.reservations().length, 1, "the ADD was not run again in-process (one reservation, the dead helper's)");
      const del = net.run('DEL', a, conf, h.env); // the socket is stale now: in-process
      assert.is(del.status, 0, del.stdout);
      assert.equal(net.reservations(), []);
      assert.equal(
        readdirSync(join(net.dataDir, 'records')).filter((f) => f.endsWith('.json')),
        [],
      );
      assert.equal(hostState(), before);
    });
  });
});

test('a non-root peer is refused (SO_PEERCRED); a root peer of this build is accepted', async () => {
  await withHelper(async (h) => {
    // Only to let uid 65534 reach the socket at all: serve checked its directory at start.
    chmodSync(h.dir, 0o711);
    chmodSync(dirname(h.socket), 0o711);
    chmodSync(h.socket, 0o666);
    const nobody = rawHello(h, helperHash(h), 65534);
    assert.is(nobody.accepted, false, JSON.stringify(nobody));
    assert.match(nobody.reason, /peer uid 65534 is not root/);
    const root = rawHello(h, helperHash(h));
    assert.is(root.accepted, true, JSON.stringify(root));
    assert.is(calls(h).length, 0, 'nothing ran: neither sent "go"');
  });
});

test('a peer in another network namespace is refused and runs the call in-process', async () => {
  await withHelper(async (h) => {
    const r = await runAsync({ ...VERSION_ENV, ...h.env }, VERSION_IN, { argv0: ['unshare', '-n'] }).done;
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout, inProcessVersion());
    assert.is(calls(h).length, 0);
    assert.ok(
      h.log().some((l) => l.event === 'refused' && /another net namespace/.test(l.reason)),
      JSON.stringify(h.log()),
    );
  });
});

/** A copy of the Node-script file claiming another code hash (or, with keepHash, the same build). */
function otherBuild(dir: string, keepHash = false): string {
  const file = join(dir, 'userns-netns');
  let text = readFileSync(ARTIFACTS.script, 'latin1');
  if (!keepHash) {
    const hash = /"([0-9a-f]{32})"/.exec(text)![1]!;
    text = text.split(hash).join('0'.repeat(32));
  }
  writeFileSync(file, text, { encoding: 'latin1', mode: 0o755 });
  return file;
}

test('a helper of another build refuses the call, which runs in-process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'uxn-other-'));
  try {
    await withHelper(
      async (h) => {
        assert.is(helperHash(h), '0'.repeat(32));
        const r = runPlugin({ ...VERSION_ENV, ...h.env }, VERSION_IN);
        assert.is(r.status, 0, r.stderr);
        assert.is(r.stdout, inProcessVersion());
        assert.is(calls(h).length, 0);
        assert.ok(h.log().some((l) => l.event === 'refused' && /another build/.test(l.reason)));
      },
      { plugin: otherBuild(dir) },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('its file changed on disk (upgrade): the helper refuses, stops accepting and exits 0; the call runs in-process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'uxn-upgrade-'));
  try {
    const file = otherBuild(dir, true);
    const h = await startHelper({ plugin: file });
    try {
      const served = runPlugin({ ...VERSION_ENV, ...h.env }, VERSION_IN, { plugin: ARTIFACTS.script });
      assert.is(calls(h).length, 1, `the same build is served: ${served.stderr}`);
      utimesSync(file, new Date(), new Date(Date.now() + 5000));
      const r = runPlugin({ ...VERSION_ENV, ...h.env }, VERSION_IN, { plugin: ARTIFACTS.script });
      assert.is(r.status, 0, r.stderr);
      assert.is(r.stdout, inProcessVersion());
      assert.is(calls(h).length, 1, 'the second call ran in-process');
      assert.equal(await h.exited, { code: 0, signal: null });
      assert.is(existsSync(h.socket), false);
    } finally {
      stopHelper(h);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stdin the shim cannot read at once (non-blocking, writer late) or too large: in-process, same answer', async () => {
  await withHelper(async (h) => {
    const late = await runWithNonBlockingStdin({ ...VERSION_ENV, ...h.env }, JSON.stringify({ cniVersion: '0.4.0' }), 500);
    assert.is(late.status, 0, late.stdout);
    assert.is(JSON.parse(late.stdout).cniVersion, '0.4.0', 'the in-process path went on from what the shim had read');
    const big = JSON.stringify({ cniVersion: '1.0.0', pad: 'x'.repeat(STDIN_LIMIT) });
    const local = runPlugin(VERSION_ENV, big);
    const relayed = runPlugin({ ...VERSION_ENV, ...h.env }, big);
    assert.is(local.json.code, 6, local.stdout);
    assert.is(relayed.stdout, local.stdout);
    assert.is(calls(h).length, 0);
  });
});

test.run();
