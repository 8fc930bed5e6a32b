// invokeDelegate against the fault-injection fake: environment, stderr handling and every
// way a delegate can fail. The real-plugin behaviour is in real-plugins.test.ts.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { invokeDelegate, type DelegateLogEntry } from '../../src/delegate/invoke';
import { installFake, rejectsCni, removeDir, tempDir } from './helpers/kit';

let dir: string;
let fake: string;

test.before(() => {
  dir = tempDir('inv');
  fake = installFake(dir);
});
test.after(() => removeDir(dir));

const env = { containerId: 'ctr-1', netns: '/run/netns/pin', ifname: 'eth0', cniPath: '/usr/lib/cni' };

test('ADD: protocol variables set, inherited ones replaced, the rest of our env passed, config on stdin', async () => {
  const saved = { ...process.env };
  process.env.CNI_NETNS = '/run/netns/from-runtime';
  process.env.CNI_IFNAME = 'eth7';
  process.env.UXD_OTHER = 'inherited';
  try {
    const conf = { cniVersion: '1.0.0', name: 'n', type: 'fake', fake: { mode: 'env' } };
    const out = (await invokeDelegate({
      binary: fake,
      command: 'ADD',
      netconf: conf,
      env: { ...env, cniArgs: 'K8S_POD_NAME=web' },
    })) as { env: Record<string, string>; stdin: unknown };
    assert.equal(out.env, {
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'ctr-1',
      CNI_NETNS: '/run/netns/pin',
      CNI_IFNAME: 'eth0',
      CNI_PATH: '/usr/lib/cni',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web',
      UXD_OTHER: 'inherited',
    });
    assert.equal(out.stdin, conf);
  } finally {
    process.env = saved;
  }
});

test('DEL with empty netns/ifname: those variables are unset, not empty', async () => {
  const saved = { ...process.env };
  process.env.CNI_NETNS = '/run/netns/from-runtime';
  try {
    const out = (await invokeDelegate({
      binary: fake,
      command: 'DEL',
      netconf: { cniVersion: '1.0.0', type: 'fake', fake: { mode: 'env' } },
      env: { containerId: 'ctr-1', netns: '', ifname: '', cniPath: '/usr/lib/cni' },
    })) as { env: Record<string, string> };
    assert.is(out.env.CNI_NETNS, '<unset>');
    assert.is(out.env.CNI_IFNAME, '<unset>');
    assert.is(out.env.CNI_COMMAND, 'DEL');
  } finally {
    process.env = saved;
  }
});

test('capability args land in runtimeConfig for declared capabilities only', async () => {
  const out = (await invokeDelegate({
    binary: fake,
    command: 'ADD',
    netconf: { cniVersion: '1.0.0', type: 'fake', capabilities: { portMappings: true }, fake: { mode: 'env' } },
    env: { ...env, capArgs: { portMappings: [{ hostPort: 1 }], ips: ['10.0.0.9'] } },
  })) as { stdin: Record<string, unknown> };
  assert.equal(out.stdin.runtimeConfig, { portMappings: [{ hostPort: 1 }] });
});

test('stderr goes to the log callback, never into the result', async () => {
  const logs: DelegateLogEntry[] = [];
  const out = await invokeDelegate({
    binary: fake,
    command: 'ADD',
    netconf: { cniVersion: '1.0.0', type: 'fake', fake: { mode: 'stderr' } },
    env,
    log: (e) => logs.push(e),
  });
  assert.equal(out, { cniVersion: '1.0.0' });
  assert.is(logs.length, 1);
  assert.is(logs[0]!.stderr, 'fake: line one\nfake: line two\n');
  assert.is(logs[0]!.delegate, 'fake');
  assert.is(logs[0]!.command, 'ADD');
  assert.is(logs[0]!.exitCode, 0);
});

test('DEL/CHECK success without output: undefined', async () => {
  for (const command of ['DEL', 'CHECK'] as const) {
    const out = await invokeDelegate({ binary: fake, command, netconf: { type: 'fake' }, env });
    assert.is(out, undefined);
  }
});

test("a delegate's error passes through with its own code and msg, delegate named in details", async () => {
  const logs: DelegateLogEntry[] = [];
  const e = await rejectsCni(
    invokeDelegate({
      binary: fake,
      command: 'ADD',
      netconf: { type: 'fake', fake: { mode: 'error', code: 11, msg: 'busy, try later', details: 'lock held' } },
      env,
      log: (x) => logs.push(x),
    }),
  );
  assert.is(e.code, 11);
  assert.is(e.message, 'busy, try later');
  assert.is(e.details, 'delegate "fake" (ADD): lock held');
  assert.is((e.cause as { stderr: string }).stderr, 'fake: failing on purpose\n');
  assert.is(logs[0]!.exitCode, 1, 'failures are logged too');

  const noDetails = await rejectsCni(invokeDelegate({ binary: fake, command: 'DEL', netconf: { type: 'fake', fake: { mode: 'error', code: 3, msg: 'gone' } }, env }));
  assert.is(noDetails.code, 3);
  assert.is(noDetails.details, 'delegate "fake" (DEL)');
});

test('an error document without a usable code still fails with a non-zero code', async () => {
  const e = await rejectsCni(invokeDelegate({ binary: fake, command: 'ADD', netconf: { type: 'fake', fake: { mode: 'error', msg: 'no code' } }, env }));
  assert.is(e.code, 999);
  assert.is(e.message, 'no code');
});

test('non-zero exit with garbage on stdout: clear error quoting it', async () => {
  const e = await rejectsCni(invokeDelegate({ binary: fake, command: 'ADD', netconf: { type: 'fake', fake: { mode: 'garbage', exit: 4 } }, env }));
  assert.is(e.code, 999);
  assert.match(e.message, /plugin "fake" failed \(exit status 4\), unparseable error output "this is not json"/);
  assert.is(e.details, 'delegate "fake" (ADD)');
});

test('ADD success with garbage on stdout: code 6', async () => {
  const e = await rejectsCni(invokeDelegate({ binary: fake, command: 'ADD', netconf: { type: 'fake', fake: { mode: 'garbage' } }, env }));
  assert.is(e.code, 6);
  assert.is(e.message, 'delegate "fake" ADD result: not JSON: "this is not json"');
  // For DEL the output is ignored, as Go's DelegateDel does.
  assert.is(await invokeDelegate({ binary: fake, command: 'DEL', netconf: { type: 'fake', fake: { mode: 'garbage' } }, env }), undefined);
});

test('ADD success with no output at all: code 6', async () => {
  const e = await rejectsCni(invokeDelegate({ binary: fake, command: 'ADD', netconf: { type: 'fake', fake: { mode: 'silent-ok' } }, env }));
  assert.is(e.code, 6);
  assert.is(e.message, 'delegate "fake" ADD result: empty: the plugin printed no result');
});

test('silent failure and stderr-only failure', async () => {
  const silent = await rejectsCni(invokeDelegate({ binary: fake, command: 'CHECK', netconf: { type: 'fake', fake: { mode: 'silent-fail' } }, env }));
  assert.is(silent.message, 'plugin "fake" failed (exit status 3) with no error message');
  const loud = await rejectsCni(invokeDelegate({ binary: fake, command: 'ADD', netconf: { type: 'fake', fake: { mode: 'stderr-fail' } }, env }));
  assert.is(loud.message, 'plugin "fake" failed (exit status 2): fake: panic: something broke');
});

test('timeout kills the delegate', async () => {
  const t0 = performance.now();
  const e = await rejectsCni(
    invokeDelegate({
      binary: fake,
      command: 'ADD',
      netconf: { type: 'fake', fake: { mode: 'sleep', seconds: 20 } },
      env,
      timeoutMs: 300,
    }),
  );
  assert.ok(performance.now() - t0 < 5000, 'returned long before the sleep ended');
  assert.match(e.message, /timed out after 300 ms/);
});

test('a delegate that leaves a child holding its stdout does not hang us', async () => {
  const t0 = performance.now();
  const out = await invokeDelegate({
    binary: fake,
    command: 'ADD',
    netconf: { cniVersion: '1.0.0', type: 'fake', fake: { mode: 'daemon' } },
    env,
  });
  assert.equal(out, { cniVersion: '1.0.0', daemon: true });
  assert.ok(performance.now() - t0 < 3000, 'did not wait for the background child');
  // End the fake's background child (started by this test, through the fake) by its pid.
  const pid = Number(readFileSync(join(dirname(fake), 'daemon.pid'), 'utf8'));
  if (pid > 1) process.kill(pid, 'SIGKILL');
});

test('more than 16 MiB of output is refused, not parsed', async () => {
  const e = await rejectsCni(invokeDelegate({ binary: fake, command: 'ADD', netconf: { cniVersion: '1.0.0', type: 'fake', fake: { mode: 'flood' } }, env }));
  assert.is(e.code, 999);
  assert.match(e.message, /stdout exceeded 16777216 bytes/);
});

test('a binary that cannot be started', async () => {
  const e = await rejectsCni(invokeDelegate({ binary: `${dir}/does-not-exist`, command: 'ADD', netconf: { type: 'ghost' }, env }));
  assert.is(e.code, 999);
  assert.match(e.message, /failed to run plugin "ghost": ENOENT/);
});

test.run();
