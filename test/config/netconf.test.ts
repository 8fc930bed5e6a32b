import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadNetConf, DEFAULTS } from '../../src/config/netconf';
import { CniError } from '../../src/cni/errors';
import { REPO } from '../helpers/plugin';

const base = { cniVersion: '1.0.0', name: 'n1', type: 'userns-netns', delegates: [{ type: 'bridge', anything: { goes: [1] } }] };

test('defaults fill what the config leaves out', () => {
  const c = loadNetConf({ ...base }, 'ADD');
  assert.equal(c.netnsPinDirs, DEFAULTS.netnsPinDirs);
  assert.is(c.usernsPinDir, '/run/userns');
  assert.is(c.dataDir, '/var/lib/cni/userns-netns');
  assert.is(c.existingNetns, 'adopt');
});

test('keys the runtime inserts pass through, delegates keep unknown keys', () => {
  const doc = {
    ...base,
    runtimeConfig: { portMappings: [] },
    capabilities: { portMappings: true },
    args: { cni: { x: 1 } },
    prevResult: { cniVersion: '1.0.0' },
    'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }],
    'cni.dev/attachments': [],
  };
  const c = loadNetConf(doc, 'ADD');
  assert.equal(c.delegates[0], { type: 'bridge', anything: { goes: [1] } });
  assert.equal(c.raw['cni.dev/valid-attachments'], doc['cni.dev/valid-attachments']);
});

test('an unknown key of ours is rejected by name, with code 7', () => {
  try {
    loadNetConf({ ...base, dataDri: '/x' }, 'ADD');
    assert.unreachable();
  } catch (e) {
    assert.instance(e, CniError);
    assert.is((e as CniError).code, 7);
    assert.match((e as CniError).message, 'dataDri: unknown key');
  }
});

function codeOf(fn: () => unknown): { code: number; msg: string } {
  try {
    fn();
  } catch (e) {
    assert.instance(e, CniError);
    return { code: (e as CniError).code, msg: (e as CniError).message };
  }
  throw new Error('expected a CniError');
}

test('DEL checks only what it needs: drift (unknown keys, "prevResult": null, a bad option) is dropped and reported', () => {
  const drifted = {
    ...base,
    dataDir: '/var/lib/x',
    prevResult: null, // some runtimes send it on DEL
    featureOfANewerVersion: { on: true }, // a binary rollback after a config update
    allocator: { blockSize: 65536, newAllocatorKey: 1 },
    lockTimeoutMs: 'soon',
  };
  for (const cmd of ['ADD', 'CHECK', 'GC'] as const) {
    assert.is(codeOf(() => loadNetConf({ ...drifted, cniVersion: '1.1.0' }, cmd)).code, 7, cmd);
  }
  const c = loadNetConf(drifted, 'DEL');
  assert.is(c.dataDir, '/var/lib/x', 'what DEL needs is kept');
  assert.is(c.lockTimeoutMs, DEFAULTS.lockTimeoutMs, 'a dropped key gets its default');
  assert.is(c.drift.length, 4, c.drift.join('\n'));
  for (const k of ['prevResult', 'featureOfANewerVersion', 'allocator.newAllocatorKey', 'lockTimeoutMs']) {
    assert.ok(
      c.drift.some((d) => d.startsWith(k)),
      `${k} in ${c.drift.join('; ')}`,
    );
  }
  assert.not.ok('featureOfANewerVersion' in c.raw);
  assert.equal(loadNetConf(base, 'ADD').drift, []);
});

test('DEL still refuses what it needs: a bad dataDir, name or delegates, or a missing key', () => {
  assert.match(codeOf(() => loadNetConf({ ...base, dataDir: 'relative' }, 'DEL')).msg, 'dataDir');
  assert.match(codeOf(() => loadNetConf({ ...base, name: 'a/b' }, 'DEL')).msg, 'name');
  assert.match(codeOf(() => loadNetConf({ ...base, delegates: [{ type: 'x/y' }] }, 'DEL')).msg, 'delegates[0].type');
  const { delegates: _, ...noDelegates } = base;
  assert.is(codeOf(() => loadNetConf(noDelegates, 'DEL')).code, 7);
});

test('a delegate that is this plugin itself is refused with code 7, naming it and the dataDir', () => {
  const same = { ...base, dataDir: '/var/lib/x', delegates: [{ type: 'bridge' }, { type: 'userns-netns', dataDir: '/var/lib/x', delegates: [{ type: 'bridge' }] }] };
  for (const cmd of ['ADD', 'CHECK'] as const) {
    const e = codeOf(() => loadNetConf(same, cmd));
    assert.is(e.code, 7);
    assert.match(e.msg, 'delegates[1].type: "userns-netns" is this plugin itself (the same dataDir "/var/lib/x")');
  }
  const other = { ...base, dataDir: '/var/lib/x', delegates: [{ type: 'userns-netns', dataDir: '/var/lib/y', delegates: [{ type: 'bridge' }] }] };
  assert.match(codeOf(() => loadNetConf(other, 'ADD')).msg, 'its own dataDir "/var/lib/y", ours "/var/lib/x"');
  // Installed under another name, it is still itself: the runtime found it by "type".
  assert.is(codeOf(() => loadNetConf({ ...base, type: 'uxn', delegates: [{ type: 'uxn' }] }, 'ADD')).code, 7);
  // DEL: reported; the same-dataDir one never got past our lock, so it has nothing to release.
  const del = loadNetConf(same, 'DEL');
  assert.equal(del.delegates, [{ type: 'bridge' }]);
  assert.match(del.drift[0]!, 'this plugin itself');
  assert.is(loadNetConf(other, 'DEL').delegates.length, 1, 'another dataDir may hold state: its DEL still runs');
});

test('every example conflist validates against the schema', () => {
  const dir = join(REPO, 'netconf-examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.conflist') || f.endsWith('.conf'));
  assert.ok(files.length >= 3, `examples: ${files.join(', ')}`);
  for (const f of files) {
    const doc = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    const entries = f.endsWith('.conflist') ? doc.plugins.filter((p: any) => p.type === 'userns-netns') : [doc];
    assert.ok(entries.length === 1, `${f}: one userns-netns entry`);
    // libcni injects name and cniVersion into each plugin entry of a conflist.
    const entry = f.endsWith('.conflist') ? { ...entries[0], name: doc.name, cniVersion: doc.cniVersion } : entries[0];
    loadNetConf(entry, 'ADD');
  }
});

test.run();
