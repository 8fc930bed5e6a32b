// Every kind of bad input gets a CNI error JSON on stdout with the right code, a message that
// names the offending key or value, a non-zero exit - and changes nothing on the host.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CNI_BIN, runPlugin } from '../helpers/plugin';
import { uniqueName } from '../helpers/unique';

const scratch = mkdtempSync(join(tmpdir(), 'uxn-proto-'));
const dataDir = join(scratch, 'data'); // must never be created by a rejected call
const pinDir = join(scratch, 'pins');

function conf(extra: Record<string, unknown> = {}) {
  return {
    cniVersion: '1.0.0',
    name: 'proto-net',
    type: 'userns-netns',
    dataDir,
    netnsPinDirs: [pinDir],
    usernsPinDir: join(scratch, 'userns'),
    delegates: [{ type: 'bridge', bridge: 'uxnbr0', ipam: { type: 'host-local', subnet: '10.250.0.0/24' } }],
    ...extra,
  };
}

function env(extra: Record<string, string | undefined> = {}) {
  return {
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: uniqueName('c'),
    CNI_NETNS: join(pinDir, uniqueName('n')),
    CNI_IFNAME: 'eth0',
    CNI_PATH: CNI_BIN,
    ...extra,
  };
}

function expectError(r: ReturnType<typeof runPlugin>, code: number, mention: RegExp | string) {
  assert.is.not(r.status, 0, 'exit status must be non-zero');
  assert.ok(r.json, `stdout must hold one JSON document, got ${JSON.stringify(r.stdout)}`);
  assert.is(r.json.code, code, `code: ${JSON.stringify(r.json)}`);
  assert.type(r.json.msg, 'string');
  assert.type(r.json.cniVersion, 'string');
  if (typeof mention === 'string') assert.ok(r.json.msg.includes(mention), `msg ${JSON.stringify(r.json.msg)} should mention ${mention}`);
  else assert.match(r.json.msg, mention);
  assert.is(r.stdout.trim().split('\n').length, 1, 'exactly one line on stdout');
  assert.not.match(r.stdout, /\n\s+at /, 'no stack trace on stdout');
  assert.not.ok(existsSync(dataDir), 'nothing written to the data dir');
  assert.not.ok(existsSync(pinDir), 'no pin dir created');
}

test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('unknown CNI_COMMAND -> code 4 naming it', () => {
  expectError(runPlugin(env({ CNI_COMMAND: 'ATTACH' }), conf()), 4, '"ATTACH"');
});

for (const command of ['ADD', 'CHECK', 'DEL']) {
  test(`${command} with missing variables -> code 4 listing them`, () => {
    const r = runPlugin({ CNI_COMMAND: command, CNI_PATH: CNI_BIN, CNI_IFNAME: '' }, conf({ cniVersion: '1.1.0' }));
    expectError(r, 4, 'CNI_CONTAINERID');
    assert.ok(r.json.msg.includes('CNI_IFNAME'), r.json.msg);
    if (command !== 'DEL') assert.ok(r.json.msg.includes('CNI_NETNS'), r.json.msg);
    else assert.not.ok(r.json.msg.includes('CNI_NETNS'), 'DEL does not need CNI_NETNS');
  });
}

test('GC and STATUS need only CNI_PATH', () => {
  const r = runPlugin({ CNI_COMMAND: 'GC' }, conf({ cniVersion: '1.1.0' }));
  expectError(r, 4, 'CNI_PATH');
});

for (const id of ['../etc', 'a/b', '-lead', 'sp ace', '.hidden', 'x'.repeat(1025)]) {
  test(`bad container id ${JSON.stringify(id.slice(0, 20))} -> code 4`, () => {
    expectError(runPlugin(env({ CNI_CONTAINERID: id }), conf()), 4, 'CNI_CONTAINERID');
  });
}

for (const ifname of ['.', '..', 'eth/0', 'eth:0', 'e th0', 'a'.repeat(16)]) {
  test(`bad ifname ${JSON.stringify(ifname)} -> code 4`, () => {
    expectError(runPlugin(env({ CNI_IFNAME: ifname }), conf()), 4, 'CNI_IFNAME');
  });
}

test('relative CNI_NETNS -> code 4', () => {
  expectError(runPlugin(env({ CNI_NETNS: 'run/netns/x' }), conf()), 4, 'CNI_NETNS');
});

test('malformed CNI_ARGS -> code 4', () => {
  expectError(runPlugin(env({ CNI_ARGS: 'IgnoreUnknown=1;novalue' }), conf()), 4, '"novalue"');
});

test('invalid JSON -> code 6', () => {
  expectError(runPlugin(env(), '{"cniVersion": "1.0.0",'), 6, 'not valid JSON');
});

test('JSON that is not an object -> code 6', () => {
  expectError(runPlugin(env(), '[1,2]'), 6, 'JSON object');
});

test('oversized stdin -> a clear error', () => {
  const big = JSON.stringify({ ...conf(), pad: 'x'.repeat(1024 * 1024 + 10) });
  expectError(runPlugin(env(), big), 6, 'larger than 1048576 bytes');
});

for (const v of ['0.2.0', '2.0.0', 'latest']) {
  test(`unsupported cniVersion ${v} -> code 1`, () => {
    expectError(runPlugin(env(), conf({ cniVersion: v })), 1, `"${v}"`);
  });
}

test('missing cniVersion -> code 1', () => {
  const c: Record<string, unknown> = conf();
  delete c.cniVersion;
  expectError(runPlugin(env(), c), 1, 'cniVersion');
});

test('CHECK below 0.4.0 -> code 1', () => {
  expectError(runPlugin(env({ CNI_COMMAND: 'CHECK' }), conf({ cniVersion: '0.3.1' })), 1, 'CHECK');
});

for (const command of ['GC', 'STATUS']) {
  test(`${command} below 1.1.0 -> code 1`, () => {
    expectError(runPlugin({ CNI_COMMAND: command, CNI_PATH: CNI_BIN }, conf({ cniVersion: '1.0.0' })), 1, command);
  });
}

const badConfigs: Array<[string, Record<string, unknown>, string]> = [
  ['delegate type with "/"', { delegates: [{ type: 'bridge' }, { type: '../../bin/sh' }] }, 'delegates[1].type: must be a string without "/" (got "../../bin/sh")'],
  ['delegate without type', { delegates: [{ bridge: 'x' }] }, 'delegates[0].type: required key missing'],
  ['no delegates', { delegates: [] }, 'delegates'],
  ['unknown key of ours', { delegatez: [] }, 'delegatez: unknown key'],
  ['bad name', { name: '../evil' }, 'name:'],
  ['relative dataDir', { dataDir: 'var/lib' }, 'dataDir: must be an absolute path'],
  ['bad existingNetns', { existingNetns: 'steal' }, 'existingNetns: must be one of'],
  ['sysctl outside net.*', { sysctls: { 'kernel.pid_max': 1 } }, 'sysctls: key "kernel.pid_max" must be a net.* sysctl name'],
  ['sysctl value not a string or integer', { sysctls: { 'net.ipv4.ip_default_ttl': [1] } }, 'sysctls.net.ipv4.ip_default_ttl'],
  ['bad pingGroupRange', { pingGroupRange: 'all' }, 'pingGroupRange: must be one of'],
  ['bad mapping', { idMappings: { uidMappings: [{ containerID: 0, hostID: -1, size: 65536 }] } }, 'idMappings.uidMappings[0].hostID'],
];
for (const [what, extra, mention] of badConfigs) {
  test(`invalid config (${what}) -> code 7 naming the key`, () => {
    expectError(runPlugin(env(), conf(extra)), 7, mention);
  });
}

test("the error is answered in the caller's cniVersion", () => {
  const r = runPlugin(env({ CNI_IFNAME: '..' }), conf({ cniVersion: '0.4.0' }));
  assert.is(r.json.cniVersion, '0.4.0');
});

test.run();
