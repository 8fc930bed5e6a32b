// A DEL that arrives while the same attachment's ADD is still running (a runtime giving up on
// a slow ADD) must wait for it on the attachment's lock - or answer 11 once lockTimeoutMs has
// passed - and never release what the ADD is about to report as its result.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CNI_BIN, PLUGIN, mutantEnv } from '../helpers/plugin';
import { hostState, withNet } from '../helpers/host';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Running {
  done: Promise<{ code: number | null; stdout: string }>;
  pid: number;
}

/** The plugin in the background, as a runtime runs it. */
function start(command: string, a: { containerId: string; netnsPin: string }, conf: object, cniPath: string): Running {
  const env = { PATH: process.env.PATH!, ...mutantEnv(), CNI_COMMAND: command, CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netnsPin, CNI_IFNAME: 'eth0', CNI_PATH: cniPath };
  const child = spawn(PLUGIN, [], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stdin.end(JSON.stringify(conf));
  const done = new Promise<{ code: number | null; stdout: string }>((res) => child.on('close', (code) => res({ code, stdout })));
  return { done, pid: child.pid! };
}

async function waitFor(file: string, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 50) {
    if (existsSync(file)) return;
    await sleep(50);
  }
  throw new Error(`${file} did not appear within ${ms} ms`);
}

test('DEL during a slow ADD: code 11 past lockTimeoutMs, or waits; the IP the ADD reports stays reserved', async () => {
  const bin = mkdtempSync(join(tmpdir(), 'uxn-slow-'));
  try {
    copyFileSync(join(import.meta.dirname, 'fixtures', 'slow-delegate.sh'), join(bin, 'slow-delegate'));
    const cniPath = `${bin}:${CNI_BIN}`;
    await withNet(async (net) => {
      const before = hostState();
      const conf = net.conf('1.0.0', {}, [net.bridgeDelegate(), { type: 'slow-delegate' }]);
      const a = net.attachment();
      const add = start('ADD', a, conf, cniPath);
      await waitFor(join(bin, 'started'), 20_000); // bridge has run: the IP is reserved, the lock held

      const impatient = net.run('DEL', a, { ...conf, lockTimeoutMs: 300 }, { CNI_PATH: cniPath });
      assert.is(impatient.json?.code, 11, `DEL past lockTimeoutMs: ${impatient.stdout}`);
      assert.is(net.reservations().length, 1, 'the DEL that timed out released nothing');

      // A patient DEL queues behind the ADD on the lock and runs only once the ADD is done.
      const patient = start('DEL', a, conf, cniPath);
      await sleep(500);
      assert.is(net.reservations().length, 1, 'the waiting DEL has not released the IP under the running ADD');
      writeFileSync(join(bin, 'release'), '');
      const added = await add.done;
      assert.is(added.code, 0, added.stdout);
      const ip = JSON.parse(added.stdout).ips[0].address.split('/')[0];
      const deleted = await patient.done;
      assert.is(deleted.code, 0, deleted.stdout);

      // The ADD's answer was true when it was given (the DEL came after it, in lock order), and
      // the DEL then released all of it.
      assert.equal(net.reservations(), [], `${ip} released by the DEL that ran after the ADD`);
      assert.equal(net.vethsOnBridge(), []);
      assert.equal(hostState(), before);
    });
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test('DEL during a slow ADD, then the ADD completes: CHECK passes and the reservation is the reported IP', async () => {
  const bin = mkdtempSync(join(tmpdir(), 'uxn-slow-'));
  try {
    copyFileSync(join(import.meta.dirname, 'fixtures', 'slow-delegate.sh'), join(bin, 'slow-delegate'));
    const cniPath = `${bin}:${CNI_BIN}`;
    await withNet(async (net) => {
      const conf = net.conf('1.0.0', {}, [net.bridgeDelegate(), { type: 'slow-delegate' }]);
      const a = net.attachment();
      const add = start('ADD', a, conf, cniPath);
      await waitFor(join(bin, 'started'), 20_000);
      const impatient = net.run('DEL', a, { ...conf, lockTimeoutMs: 300 }, { CNI_PATH: cniPath });
      assert.is(impatient.json?.code, 11, impatient.stdout);
      writeFileSync(join(bin, 'release'), '');
      const added = await add.done;
      assert.is(added.code, 0, added.stdout);
      const result = JSON.parse(added.stdout);
      assert.equal(net.reservations(), [result.ips[0].address.split('/')[0]], 'the reported IP is the one host-local holds');
      const check = net.run('CHECK', a, { ...conf, prevResult: result }, { CNI_PATH: cniPath });
      assert.is(check.status, 0, check.stdout);
      assert.is(net.run('DEL', a, conf, { CNI_PATH: cniPath }).status, 0);
      assert.equal(net.reservations(), []);
    });
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test.run();
