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
