// Cost independent of the number of attachments: with hundreds of other records in the data
// dir, ADD, CHECK and DEL (allocator and explicit mapping) open none of them - the allocation
// table answers - nor list the records directory, and GC and `list` open each at most once.
// Counted with strace on the built plugin, so the O(N) read coming back fails here whatever
// the timing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withNet, type TestNet } from '../helpers/host';
import { PLUGIN, runPlugin } from '../helpers/plugin';
import { allocConf, freshPoolStart, tableBlocks, tableExplicit } from './helpers/e2e';
import { addSynthetic, listedDirs, openedPaths } from './helpers/synthetic';

const OTHERS = 300;
const PREFIX = 'synthetic';

/** A wrapper that runs the plugin under strace, logging every open to `log`. */
function tracedPlugin(net: TestNet, log: string): string {
  const wrapper = join(net.dir, 'traced-plugin');
  writeFileSync(wrapper, `#!/bin/sh\nexec strace -f -qq -y -e trace=open,openat,getdents64 -o ${log} ${PLUGIN} "$@"\n`);
  chmodSync(wrapper, 0o700);
  return wrapper;
}

/** How many times files of the synthetic records were opened (each counted per open). */
function syntheticOpens(log: string): { total: number; distinct: number } {
  const hits = openedPaths(log).filter((p) => p.includes(`+${PREFIX}`) && p.includes('/records/'));
  return { total: hits.length, distinct: new Set(hits).size };
}

function traced(net: TestNet, name: string, command: string, a: { containerId: string; netnsPin?: string }, conf: Record<string, unknown>, env: Record<string, string> = {}) {
  const log = join(net.dir, `${name}.strace`);
  const r = runPlugin({ CNI_COMMAND: command, CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netnsPin, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni', ...env }, conf, { plugin: tracedPlugin(net, log) });
  return { r, opens: syntheticOpens(log), listedRecordsDir: listedDirs(log).filter((d) => d.endsWith('/records')).length };
}

for (const mode of ['allocator', 'explicit mapping'] as const) {
  test(`${mode}: ADD, CHECK and DEL with ${OTHERS} other records open none of them; GC and list open each at most once`, async () => {
    await withNet(async (net) => {
      const conf = mode === 'allocator' ? allocConf(net, { start: freshPoolStart(), count: 4 }) : net.conf('1.0.0');
      const first = net.attachment();
      assert.is(net.run('ADD', first, conf).status, 0);
      const synthetic = addSynthetic(net.dataDir, { network: net.name, containerId: first.containerId, ifname: 'eth0' }, OTHERS, PREFIX);
      if (mode === 'allocator') assert.is(tableBlocks(net).length, OTHERS + 1);
      else assert.is(tableExplicit(net).length, OTHERS + 1);

      const a = net.attachment();
      for (const [command, env] of [
        ['ADD', {}],
        ['CHECK', {}],
        ['DEL', {}],
      ] as const) {
        const { r, opens, listedRecordsDir } = traced(net, command, command, a, conf, env);
        assert.is(r.status, 0, `${command}: ${r.stdout}${r.stderr}`);
        assert.is(opens.total, 0, `${command} opened ${opens.total} other records`);
        assert.is(listedRecordsDir, 0, `${command} listed the records directory`);
      }

      const valid = [first, ...synthetic.keys].map((k) => ({ containerID: k.containerId, ifname: 'eth0' }));
      const gc = traced(net, 'gc', 'GC', first, { ...conf, cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid });
      assert.is(gc.r.status, 0, gc.r.stdout);
      assert.ok(gc.opens.total <= OTHERS && gc.opens.distinct === gc.opens.total, `GC opened records ${gc.opens.total} times (${gc.opens.distinct} distinct)`);

      const listLog = join(net.dir, 'list.strace');
      const l = runPlugin({}, '', { plugin: writeListWrapper(net, listLog) });
      assert.is(l.status, 0, l.stderr);
      assert.is(JSON.parse(l.stdout).attachments.length, OTHERS + 1);
      const listOpens = syntheticOpens(listLog);
      assert.equal([listOpens.total, listOpens.distinct], [OTHERS, OTHERS], 'list opens each record exactly once');

      synthetic.remove();
      assert.is(net.run('DEL', first, conf).status, 0);
    });
  });
}

/** `userns-netns list --json --data-dir D` under strace (operator commands take argv). */
function writeListWrapper(net: TestNet, log: string): string {
  const wrapper = join(net.dir, 'traced-list');
  writeFileSync(wrapper, `#!/bin/sh\nexec strace -f -qq -e trace=open,openat -o ${log} ${PLUGIN} list --json --data-dir ${net.dataDir}\n`);
  chmodSync(wrapper, 0o700);
  return wrapper;
}

test('list --json with 3000 records: the whole document (megabytes through a pipe), each record opened once', async () => {
  await withNet(async (net) => {
    const conf = net.conf('1.0.0');
    const first = net.attachment();
    assert.is(net.run('ADD', first, conf).status, 0);
    const synthetic = addSynthetic(net.dataDir, { network: net.name, containerId: first.containerId, ifname: 'eth0' }, 3000, PREFIX);
    const log = join(net.dir, 'list.strace');
    const l = spawnSync(writeListWrapper(net, log), [], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.is(l.status, 0, l.stderr);
    assert.ok(l.stdout.length > 1_000_000, `${l.stdout.length} bytes`);
    assert.is(JSON.parse(l.stdout).attachments.length, 3001);
    assert.equal(Object.values(syntheticOpens(log)), [3000, 3000]);
    synthetic.remove();
    assert.is(net.run('DEL', first, conf).status, 0);
  });
});

test.run();
