// Calls relayed to a resident helper answer exactly what the in-process plugin answers, run
// concurrently without failures, and a SIGTERM lets the calls in flight finish.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CNI_BIN } from '../helpers/plugin';
import { hostState, withNet, type TestNet } from '../helpers/host';
import { calls, runAsync, sleep, startHelper, stopHelper, withHelper } from './helpers/serve';

/** The bridge plugin picks host-side veth names and MACs at random: everything else must match. */
const withoutRandom = (stdout: string) => stdout.replace(/"mac":"[0-9a-f:]+"/g, '"mac":"M"').replace(/"veth[0-9a-f]+"/g, '"VETH"');

function lastReservedReset(net: TestNet): void {
  rmSync(join(net.ipamDir, net.name, 'last_reserved_ip.0'), { force: true });
}

test('ADD, CHECK, DEL and errors through the helper answer what the in-process plugin answers', async () => {
  await withHelper(async (h) => {
    await withNet(async (net) => {
      const before = hostState();
      const a = net.attachment();
      const conf = net.conf('1.1.0');
      const answers = (env: Record<string, string>) => {
        lastReservedReset(net);
        const add = net.run('ADD', a, conf, env);
        const check = net.run('CHECK', a, { ...conf, prevResult: add.json }, env);
        const del = net.run('DEL', a, conf, env);
        const bad = net.run('ADD', a, { ...conf, bogusKey: 1 }, env);
        const version = net.run('VERSION', a, { cniVersion: '0.4.0' }, env);
        return { add, check, del, bad, version };
      };
      const local = answers({});
      const relayed = answers(h.env);
      assert.is(local.add.status, 0, local.add.stdout);
      assert.is(relayed.add.status, 0, relayed.add.stdout + relayed.add.stderr);
      assert.is(withoutRandom(relayed.add.stdout), withoutRandom(local.add.stdout));
      for (const k of ['check', 'del', 'bad', 'version'] as const) {
        assert.is(relayed[k].stdout, local[k].stdout, k);
        assert.is(relayed[k].status, local[k].status, k);
      }
      assert.is(local.bad.json.code, 7, local.bad.stdout);
      assert.equal(
        calls(h).map((c) => c.command),
        ['ADD', 'CHECK', 'DEL', 'ADD', 'VERSION'],
        'the relayed calls went through the helper',
      );
      assert.equal(net.reservations(), []);
      assert.equal(hostState(), before);
    });
  });
});

test('32 parallel ADD then 32 parallel DEL through the helper: zero failures, nothing left', async () => {
  await withHelper(async (h) => {
    await withNet(async (net) => {
      const before = hostState();
      const conf = net.conf('1.0.0');
      const atts = Array.from({ length: 32 }, () => net.attachment());
      const env = (c: string, a: (typeof atts)[number]) => ({ CNI_COMMAND: c, CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netnsPin, CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN, ...h.env });
      const adds = await Promise.all(atts.map((a) => runAsync(env('ADD', a), conf).done));
      for (const r of adds) assert.is(r.code, 0, r.stdout + r.stderr);
      const ips = new Set(adds.map((r) => JSON.parse(r.stdout).ips[0].address));
      assert.is(ips.size, 32, 'distinct addresses');
      assert.is(net.reservations().length, 32);
      const dels = await Promise.all(atts.map((a) => runAsync(env('DEL', a), conf).done));
      for (const r of dels) assert.is(r.code, 0, r.stdout + r.stderr);
      const served = calls(h);
      assert.is(served.length, 64, 'every call went through the helper');
      assert.ok(served.every((c) => c.code === 0));
      assert.equal(net.reservations(), []);
      assert.equal(hostState(), before);
    });
  });
});

test('SIGTERM with an ADD in flight: the ADD completes, then the helper exits 0 and its socket is gone', async () => {
  const bin = mkdtempSync(join(tmpdir(), 'uxn-slow-'));
  const h = await startHelper();
  try {
    copyFileSync(join(import.meta.dirname, '..', 'e2e', 'fixtures', 'slow-delegate.sh'), join(bin, 'slow-delegate'));
    const cniPath = `${bin}:${CNI_BIN}`;
    await withNet(async (net) => {
      const before = hostState();
      const conf = net.conf('1.0.0', {}, [net.bridgeDelegate(), { type: 'slow-delegate' }]);
      const a = net.attachment();
      const env = { CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netnsPin, CNI_IFNAME: 'eth0', CNI_PATH: cniPath, ...h.env };
      const add = runAsync({ CNI_COMMAND: 'ADD', ...env }, conf);
      for (let i = 0; i < 400 && !existsSync(join(bin, 'started')); i++) await sleep(50);
      assert.ok(existsSync(join(bin, 'started')), 'the ADD reached its slow delegate');
      h.proc.kill('SIGTERM');
      await sleep(300);
      assert.is(existsSync(h.socket), false, 'stopped accepting: the socket is removed at once');
      assert.is(h.proc.exitCode, null, 'still running: a call is in flight');
      writeFileSync(join(bin, 'release'), '');
      const added = await add.done;
      assert.is(added.code, 0, added.stdout + added.stderr);
      assert.ok(JSON.parse(added.stdout).ips[0].address);
      assert.equal(await h.exited, { code: 0, signal: null });
      // The helper is gone: the DEL runs in-process and finds what the ADD left.
      const del = await runAsync({ CNI_COMMAND: 'DEL', ...env }, conf).done;
      assert.is(del.code, 0, del.stdout);
      assert.equal(net.reservations(), []);
      assert.equal(hostState(), before);
    });
  } finally {
    stopHelper(h);
    rmSync(bin, { recursive: true, force: true });
  }
});

test('SIGTERM drops a connection whose call has not started (its shim would run it in-process) and exits 0', async () => {
  const h = await startHelper();
  try {
    const idle = connect(h.socket);
    await new Promise((r) => idle.once('connect', r));
    const closed = new Promise((r) => idle.once('close', r));
    idle.on('error', () => {});
    h.proc.kill('SIGTERM');
    await closed;
    assert.equal(await h.exited, { code: 0, signal: null });
  } finally {
    stopHelper(h);
  }
});

test.run();
