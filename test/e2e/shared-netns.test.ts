// One netns, several attachments of one data dir: network A's ADD creates the pins, network
// B's ADD (same CNI_NETNS) joins them. Whichever DEL comes first leaves the netns, its userns
// and the other attachment alone; the last DEL removes the pins. Two ADDs of one new path at
// once: one creates, the other joins.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { inspectNamespace } from '../../src/ns';
import { hostState, isNsfsMount, newTestNet, sh, withNet, type TestNet } from '../helpers/host';
import { CNI_BIN, runPluginAsync, type PluginRun, killedByFailpoint } from '../helpers/plugin';
import { uniqueName } from '../helpers/unique';
import { opJson } from '../cli/helpers/run-operator';
import { failpointEnv } from '../../src/attachment/failpoints';

/** Two networks (own bridge, subnet, name) sharing one data dir, cleaned up whatever happens. */
async function withTwoNets(fn: (a: TestNet, b: TestNet) => Promise<void> | void): Promise<void> {
  const a = newTestNet('uxa');
  const b = newTestNet('uxb');
  try {
    await fn(a, b);
  } finally {
    a.cleanup();
    b.cleanup();
  }
}

/** Network `net`'s config, with its records in `dataDir` (the shared one). */
function confIn(net: TestNet, dataDir: string): Record<string, unknown> {
  return net.conf('1.0.0', { dataDir });
}

function run(net: TestNet, cmd: string, containerId: string, netnsPin: string, conf: Record<string, unknown>, ifname: string): PluginRun {
  return net.run(cmd, { containerId, netnsPin }, conf, { CNI_IFNAME: ifname });
}

function links(pinName: string): string[] {
  return sh('ip', ['-n', pinName, '-o', 'link', 'show'])
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1]!.trim().split('@')[0]!);
}

function recordOf(dataDir: string, net: TestNet, containerId: string, ifname: string): any {
  return JSON.parse(readFileSync(join(dataDir, 'records', `${net.name}+${containerId}+${ifname}.json`), 'utf8'));
}

for (const firstDel of ['creator', 'joiner'] as const) {
  test(`two networks on one netns (create, then join): DEL of the ${firstDel} first leaves the other working; the last DEL removes the pins`, async () => {
    await withTwoNets(async (netA, netB) => {
      const before = hostState();
      const dataDir = netA.dataDir; // one data dir for both networks
      const confA = confIn(netA, dataDir);
      const confB = confIn(netB, dataDir);
      const att = netA.attachment();
      const cid = uniqueName('uxc');

      const addA = run(netA, 'ADD', cid, att.netnsPin, confA, 'eth0');
      assert.is(addA.status, 0, addA.stdout);
      const inode = inspectNamespace(att.netnsPin).inode;
      const usernsInode = inspectNamespace(att.usernsPin).inode;
      const addB = run(netB, 'ADD', cid, att.netnsPin, confB, 'eth1');
      assert.is(addB.status, 0, addB.stdout);
      assert.equal(
        links(att.pinName)
          .filter((l) => l !== 'lo')
          .sort(),
        ['eth0', 'eth1'],
      );

      const recA = recordOf(dataDir, netA, cid, 'eth0');
      const recB = recordOf(dataDir, netB, cid, 'eth1');

      const [first, second] =
        firstDel === 'creator'
          ? [
              { net: netA, conf: confA, ifname: 'eth0', add: addA },
              { net: netB, conf: confB, ifname: 'eth1', add: addB },
            ]
          : [
              { net: netB, conf: confB, ifname: 'eth1', add: addB },
              { net: netA, conf: confA, ifname: 'eth0', add: addA },
            ];

      const del1 = run(first.net, 'DEL', cid, att.netnsPin, first.conf, first.ifname);
      assert.is(del1.status, 0, del1.stdout);
      assert.ok(isNsfsMount(att.netnsPin) && isNsfsMount(att.usernsPin), 'both pins stay while the other attachment lives');
      assert.is(inspectNamespace(att.netnsPin).inode, inode);
      assert.is(inspectNamespace(att.usernsPin).inode, usernsInode);
      assert.equal(
        links(att.pinName).filter((l) => l !== 'lo'),
        [second.ifname],
        `the other attachment's ${second.ifname} is still there`,
      );
      assert.equal(first.net.vethsOnBridge(), [], "the first attachment's veth went");
      assert.equal(first.net.reservations(), [], 'and its reservation');
      const check = run(second.net, 'CHECK', cid, att.netnsPin, { ...second.conf, prevResult: second.add.json }, second.ifname);
      assert.is(check.status, 0, check.stdout);

      // What is left is one attachment with both pins: inspect sees them live, oci offers them.
      const inspect = opJson(['inspect', cid, '--data-dir', dataDir, '--json']);
      assert.is(inspect.attachments.length, 1);
      assert.ok(inspect.attachments[0].check.live, JSON.stringify(inspect.attachments[0].check.problems));
      const frag = opJson(['oci', cid, '--data-dir', dataDir]);
      assert.equal(frag.linux.namespaces, [
        { type: 'user', path: att.usernsPin },
        { type: 'network', path: att.netnsPin },
      ]);

      // B's record joined A's pins: the same pins, inodes and mapping.
      assert.is(recB.mode, 'adopt');
      assert.is(recB.schemaVersion, 2);
      assert.equal(recB.joined, { network: netA.name, containerId: cid, ifname: 'eth0' });
      assert.is(recB.netns.inode, inode);
      assert.is(recB.userns.path, att.usernsPin);
      assert.is(recB.userns.inode, usernsInode);
      // The very pins (tokens included: the proof a teardown needs), still not host-owned, and the same ids.
      assert.equal([recB.netns, recB.userns], [recA.netns, recA.userns]);
      assert.equal([recB.userns.hostOwned, typeof recB.netns.token, typeof recB.userns.token], [false, 'string', 'string']);
      assert.equal(recB.mappings, recA.mappings);

      const del2 = run(second.net, 'DEL', cid, att.netnsPin, second.conf, second.ifname);
      assert.is(del2.status, 0, del2.stdout);
      assert.not.ok(existsSync(att.netnsPin) || existsSync(att.usernsPin), 'the last DEL removes both pins');
      assert.equal(second.net.vethsOnBridge(), []);
      assert.equal(second.net.reservations(), []);
      assert.equal(readdirSync(join(dataDir, 'records')), []);
      assert.equal(readdirSync(join(dataDir, 'locks')), [], 'no lock files left');
      assert.equal(hostState(), before);
    });
  });
}

test('a joined netns keeps its id block taken until the last attachment goes (allocator)', async () => {
  await withTwoNets(async (netA, netB) => {
    const dataDir = netA.dataDir;
    const allocator = { start: Math.floor(netA.hostID / 65536) * 65536, count: 4 };
    const withPool = (net: TestNet) => {
      const c = net.conf('1.0.0', { dataDir, allocator });
      delete c.idMappings;
      return c;
    };
    const confA = withPool(netA);
    const confB = withPool(netB);
    const table = () =>
      JSON.parse(readFileSync(join(dataDir, 'allocations.json'), 'utf8'))
        .blocks.map((b: any) => `${b[0]}:${b[4]}`)
        .sort();
    const att = netA.attachment();
    const cid = uniqueName('uxc');
    assert.is(run(netA, 'ADD', cid, att.netnsPin, confA, 'eth0').status, 0);
    const block = recordOf(dataDir, netA, cid, 'eth0').allocation.hostID;
    assert.is(run(netB, 'ADD', cid, att.netnsPin, confB, 'eth1').status, 0);
    assert.is(recordOf(dataDir, netB, cid, 'eth1').allocation.hostID, block);
    assert.equal(table(), [`${netA.name}:${block}`, `${netB.name}:${block}`].sort());

    assert.is(run(netA, 'DEL', cid, att.netnsPin, confA, 'eth0').status, 0);
    assert.equal(table(), [`${netB.name}:${block}`], 'the user namespace still lives: its block stays taken');
    const other = netA.attachment();
    const cid2 = uniqueName('uxc');
    assert.is(run(netA, 'ADD', cid2, other.netnsPin, confA, 'eth0').status, 0);
    assert.is.not(recordOf(dataDir, netA, cid2, 'eth0').allocation.hostID, block, 'not handed out again');
    assert.is(run(netA, 'DEL', cid2, other.netnsPin, confA, 'eth0').status, 0);

    assert.is(run(netB, 'DEL', cid, att.netnsPin, confB, 'eth1').status, 0);
    assert.equal(table(), []);
    assert.not.ok(existsSync(att.netnsPin) || existsSync(att.usernsPin));
  });
});

test('a netns lock left by a plugin killed while holding it is swept by GC', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    sh('ip', ['netns', 'add', a.pinName]);
    try {
      const conf = net.conf('1.1.0');
      const killed = net.run('ADD', a, conf, failpointEnv('add-after-intent', 'kill')); // inside the netns lock
      assert.ok(killedByFailpoint(killed), killed.stdout);
      const netnsLocks = () => readdirSync(join(net.dataDir, 'locks')).filter((n) => n.startsWith('netns-'));
      assert.is(netnsLocks().length, 1);
      assert.is(net.run('DEL', a, conf).status, 0);
      const gc = net.run('GC', a, { ...conf, 'cni.dev/valid-attachments': [] });
      assert.is(gc.status, 0, gc.stdout);
      assert.equal(netnsLocks(), []);
    } finally {
      sh('ip', ['netns', 'del', a.pinName], { allowFail: true });
    }
  });
});

/** Runs the plugin asynchronously (two at once need real concurrency). */
const runAsync = (env: Record<string, string>, conf: object): Promise<PluginRun> => runPluginAsync(env, conf);

test('two networks ADD the same new path at once (10 rounds): both succeed, one created, one joined; two DELs leave nothing', async () => {
  await withTwoNets(async (netA, netB) => {
    const before = hostState();
    const dataDir = netA.dataDir;
    const confA = confIn(netA, dataDir);
    const confB = confIn(netB, dataDir);
    for (let round = 0; round < 10; round++) {
      const att = netA.attachment();
      const cid = uniqueName('uxc');
      const env = (ifname: string) => ({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: cid, CNI_NETNS: att.netnsPin, CNI_IFNAME: ifname, CNI_PATH: CNI_BIN });
      const [a, b] = await Promise.all([runAsync(env('eth0'), confA), runAsync(env('eth1'), confB)]);
      assert.is(a.status, 0, `round ${round}, A: ${a.stdout}${a.stderr}`);
      assert.is(b.status, 0, `round ${round}, B: ${b.stdout}${b.stderr}`);
      const modes = [recordOf(dataDir, netA, cid, 'eth0').mode, recordOf(dataDir, netB, cid, 'eth1').mode].sort();
      assert.equal(modes, ['adopt', 'create'], `round ${round}: one created, one joined`);
      assert.equal(
        links(att.pinName)
          .filter((l) => l !== 'lo')
          .sort(),
        ['eth0', 'eth1'],
      );
      assert.is(run(netA, 'DEL', cid, att.netnsPin, confA, 'eth0').status, 0);
      assert.is(run(netB, 'DEL', cid, att.netnsPin, confB, 'eth1').status, 0);
      assert.not.ok(existsSync(att.netnsPin) || existsSync(att.usernsPin), `round ${round}: pins removed`);
    }
    assert.equal(netA.vethsOnBridge(), []);
    assert.equal(netB.vethsOnBridge(), []);
    assert.equal([...netA.reservations(), ...netB.reservations()], []);
    assert.equal(readdirSync(join(dataDir, 'records')), []);
    assert.equal(hostState(), before);
  });
});

test('DEL of the creator races an ADD that joins (10 rounds): the joiner always ends up with a working netns; its DEL leaves nothing', async () => {
  await withTwoNets(async (netA, netB) => {
    const before = hostState();
    const dataDir = netA.dataDir;
    const confA = confIn(netA, dataDir);
    const confB = confIn(netB, dataDir);
    const modes: string[] = [];
    for (let round = 0; round < 10; round++) {
      const att = netA.attachment();
      const cid = uniqueName('uxc');
      assert.is(run(netA, 'ADD', cid, att.netnsPin, confA, 'eth0').status, 0);
      const env = (command: string, ifname: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: cid, CNI_NETNS: att.netnsPin, CNI_IFNAME: ifname, CNI_PATH: CNI_BIN });
      const [del, add] = await Promise.all([runAsync(env('DEL', 'eth0'), confA), runAsync(env('ADD', 'eth1'), confB)]);
      assert.is(del.status, 0, `round ${round}, DEL: ${del.stdout}`);
      assert.is(add.status, 0, `round ${round}, ADD: ${add.stdout}${add.stderr}`);
      modes.push(recordOf(dataDir, netB, cid, 'eth1').mode); // joined, or created after the unpin
      assert.equal(
        links(att.pinName).filter((l) => l !== 'lo'),
        ['eth1'],
        `round ${round}`,
      );
      const check = run(netB, 'CHECK', cid, att.netnsPin, { ...confB, prevResult: add.json }, 'eth1');
      assert.is(check.status, 0, `round ${round}, CHECK: ${check.stdout}`);
      assert.is(run(netB, 'DEL', cid, att.netnsPin, confB, 'eth1').status, 0);
      assert.not.ok(existsSync(att.netnsPin) || existsSync(att.usernsPin), `round ${round}: pins removed`);
    }
    assert.equal([...netA.reservations(), ...netB.reservations()], []);
    assert.equal(readdirSync(join(dataDir, 'records')), []);
    assert.equal(hostState(), before);
    console.log(`  joiner modes over 10 rounds: ${modes.join(' ')}`);
  });
});

test('a netns pinned by a record of another data dir is refused in adopt mode (code 4), untouched', async () => {
  await withTwoNets(async (netA, netB) => {
    const att = netA.attachment();
    const cid = uniqueName('uxc');
    const confA = netA.conf();
    const addA = run(netA, 'ADD', cid, att.netnsPin, confA, 'eth0');
    assert.is(addA.status, 0, addA.stdout);
    const r = run(netB, 'ADD', cid, att.netnsPin, netB.conf(), 'eth1'); // its own data dir
    assert.is(r.json?.code, 4, r.stdout);
    assert.match(r.json.msg, att.netnsPin);
    assert.match(r.json.msg, att.usernsPin);
    assert.match(r.json.msg, 'another data dir');
    assert.not.ok(existsSync(join(netB.dataDir, 'records', `${netB.name}+${cid}+eth1.json`)));
    assert.equal(netB.vethsOnBridge(), []);
    assert.is(run(netA, 'CHECK', cid, att.netnsPin, { ...confA, prevResult: addA.json }, 'eth0').status, 0);
    assert.is(run(netA, 'DEL', cid, att.netnsPin, confA, 'eth0').status, 0);
    assert.not.ok(existsSync(att.netnsPin) || existsSync(att.usernsPin));
  });
});

test.run();
