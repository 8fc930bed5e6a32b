// What a delegate gets of the runtime's call, through delegateCallFor and runDelegate: the
// call's CNI_ARGS (with IgnoreUnknown=1 added, as Go plugins need), its runtimeConfig for the
// capabilities the delegate declares, CNI_PATH as given, and - for a per-attachment verb - the
// attachment's container id and ifname; GC's delegates (the whole network) get neither. A real
// process (a small script that writes down its environment and stdin), run in-process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { delegateCallFor, runDelegate } from '../../src/attachment/delegate-runner';
import { type Invocation, parseInvocation } from '../../src/config/invocation';
import { createLogger } from '../../src/log/logger';
import { withTempDir } from '../helpers/temp';

const SEER = `#!/bin/sh
cat > "$0.stdin"
env > "$0.env"
`;

function conf(dataDir: string, cniVersion = '1.0.0', extra: Record<string, unknown> = {}) {
  return { cniVersion, name: 'callnet', type: 'userns-netns', dataDir, delegates: [{ type: 'seer' }], ...extra };
}

/** Runs the seer for `command` with the call `inv` makes; returns the CNI_* variables it saw and the config it read. */
async function seen(dir: string, inv: Invocation, command: 'DEL' | 'GC', key?: { containerId: string; ifname: string }) {
  const binary = join(dir, 'seer');
  writeFileSync(binary, SEER);
  chmodSync(binary, 0o755);
  const call = delegateCallFor(inv, createLogger({ command }), key);
  await runDelegate(call, command, { type: 'seer', binary, cniVersion: '1.0.0', conf: { type: 'seer', capabilities: { portMappings: true } } }, undefined);
  const env = Object.fromEntries(
    readFileSync(`${binary}.env`, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('CNI_'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { env, stdin: JSON.parse(readFileSync(`${binary}.stdin`, 'utf8')) };
}

test("a per-attachment verb: the call's CNI_ARGS (IgnoreUnknown=1 added), runtimeConfig for declared capabilities, container id, ifname, CNI_PATH", () =>
  withTempDir(async (dir) => {
    const portMappings = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }];
    const processEnv = { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'ctr1', CNI_IFNAME: 'net1', CNI_PATH: `${dir}:/usr/lib/cni`, CNI_ARGS: 'K8S_POD_NAME=web;K8S_POD_NAMESPACE=default' };
    const inv = parseInvocation('DEL', processEnv, Buffer.from(JSON.stringify(conf(join(dir, 'data'), '1.0.0', { runtimeConfig: { portMappings, bandwidth: { ingressRate: 1 } } }))));
    const { env, stdin } = await seen(dir, inv, 'DEL', { containerId: 'ctr1', ifname: 'net1' });
    assert.equal(env, { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'ctr1', CNI_IFNAME: 'net1', CNI_PATH: `${dir}:/usr/lib/cni`, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=default' });
    assert.equal(stdin.runtimeConfig, { portMappings }, 'only the capability the delegate declares');
    assert.equal([stdin.name, stdin.cniVersion], ['callnet', '1.0.0']);
  }, 'dcall'));

test('no CNI_ARGS and an empty runtimeConfig: CNI_ARGS is IgnoreUnknown=1 alone, no runtimeConfig', () =>
  withTempDir(async (dir) => {
    const processEnv = { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'ctr2', CNI_IFNAME: 'eth0', CNI_PATH: dir };
    const inv = parseInvocation('DEL', processEnv, Buffer.from(JSON.stringify(conf(join(dir, 'data'), '1.0.0', { runtimeConfig: {} }))));
    const { env, stdin } = await seen(dir, inv, 'DEL', { containerId: 'ctr2', ifname: 'eth0' });
    assert.is(env.CNI_ARGS, 'IgnoreUnknown=1');
    assert.is(stdin.runtimeConfig, undefined);
  }, 'dcall'));

test("GC's delegates run for the whole network: no CNI_CONTAINERID or CNI_IFNAME, even if the runtime set them", () =>
  withTempDir(async (dir) => {
    const processEnv = { CNI_COMMAND: 'GC', CNI_CONTAINERID: 'stray', CNI_IFNAME: 'eth0', CNI_PATH: dir, CNI_ARGS: 'A=1' };
    const inv = parseInvocation('GC', processEnv, Buffer.from(JSON.stringify(conf(join(dir, 'data'), '1.1.0'))));
    const { env } = await seen(dir, inv, 'GC');
    assert.equal(env, { CNI_COMMAND: 'GC', CNI_PATH: dir, CNI_ARGS: 'IgnoreUnknown=1;A=1' });
  }, 'dcall'));

test.run();
