// One CNI call's answer (runCall, in-process): stdout carries exactly one JSON document (the
// result or the error) or nothing (DEL), stderr stays empty except for an internal error's
// stack trace - a user's mistake (bad config) gets no stack, only the CNI error naming it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCall } from '../../src/commands/call';
import { withTempDir } from '../helpers/temp';
import { uniqueName } from '../helpers/unique';

const input = (doc: unknown) => async () => Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc));
const conf = (dataDir: string) => ({ cniVersion: '1.0.0', name: uniqueName('call'), type: 'userns-netns', dataDir, delegates: [{ type: 'bridge', bridge: 'nosuchbr0' }] });

test('VERSION: one JSON line on stdout, nothing on stderr', async () => {
  const r = await runCall('VERSION', {}, input({ cniVersion: '1.0.0' }));
  assert.is(r.code, 0);
  assert.is(r.stderr, '');
  assert.ok(r.stdout.endsWith('}\n') && r.stdout.indexOf('\n') === r.stdout.length - 1, r.stdout);
  assert.is(JSON.parse(r.stdout).cniVersion, '1.0.0');
});

test('DEL of an attachment never added: nothing on stdout or stderr, exit 0', () =>
  withTempDir(async (dir) => {
    const env = { CNI_COMMAND: 'DEL', CNI_CONTAINERID: uniqueName('c'), CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' };
    const r = await runCall('DEL', env, input(conf(dir)));
    assert.equal(r, { stdout: '', stderr: '', code: 0 });
  }, 'call'));

test("a bad config: the CNI error on stdout, exit 1, no stack trace on stderr (it is the user's mistake, named)", () =>
  withTempDir(async (dir) => {
    const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: uniqueName('c'), CNI_IFNAME: 'eth0', CNI_NETNS: '/run/netns/x', CNI_PATH: '/usr/lib/cni' };
    const r = await runCall('ADD', env, input({ ...conf(dir), lockTimeoutMs: 'soon' }));
    assert.is(r.code, 1);
    assert.is(r.stderr, '');
    const doc = JSON.parse(r.stdout);
    assert.is(doc.code, 7);
    assert.match(doc.msg, 'lockTimeoutMs');
  }, 'call'));

test('an internal error: the CNI error (code 999) on stdout and its stack trace on stderr', () =>
  withTempDir(async (dir) => {
    const saved = process.env.USERNS_NETNS_FAILPOINTS;
    process.env.USERNS_NETNS_FAILPOINTS = 'add-after-allocation=fail';
    try {
      const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: uniqueName('c'), CNI_IFNAME: 'eth0', CNI_NETNS: `/run/netns/${uniqueName('callp')}`, CNI_PATH: '/usr/lib/cni' };
      const idMappings = { uidMappings: [{ containerID: 0, hostID: 1_900_000_000, size: 65536 }] };
      const r = await runCall('ADD', env, input({ ...conf(dir), idMappings }));
      assert.is(r.code, 1);
      assert.is(JSON.parse(r.stdout).code, 999);
      assert.match(r.stderr, /failpoint add-after-allocation\n\s+at /);
    } finally {
      if (saved === undefined) delete process.env.USERNS_NETNS_FAILPOINTS;
      else process.env.USERNS_NETNS_FAILPOINTS = saved;
    }
  }, 'call'));

test.run();
