// Operator commands (list, inspect, oci, exec) through the built single file, against a real
// create-mode attachment (bridge + host-local) and the real kernel.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sh, withNet } from '../helpers/host';
import { op, opJson } from './helpers/run-operator';

test('bare invocation: about text on stderr, nothing on stdout, exit 0', () => {
  const r = op([]);
  assert.is(r.status, 0);
  assert.is(r.stdout, '');
  assert.match(r.stderr, /^CNI userns-netns plugin version /);
});

test('--help for the tool and each command; usage errors exit 2 with one line', () => {
  assert.match(op(['--help']).stdout, /list .*\n.*inspect/);
  for (const c of ['list', 'inspect', 'oci', 'exec']) {
    const r = op([c, '--help']);
    assert.is(r.status, 0, c);
    assert.match(r.stdout, new RegExp(`^usage: userns-netns ${c}`), c);
  }
  for (const args of [['bogus'], ['inspect'], ['oci', 'a', 'b'], ['exec', '/run/netns/x'], ['list', '--data-dir', 'rel'], ['list', '--nope']]) {
    const r = op(args);
    assert.is(r.status, 2, args.join(' '));
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('unknown container: one clear line, exit 1', () => {
  const r = op(['inspect', 'no-such-container', '--data-dir', '/nonexistent']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /^userns-netns inspect: no attachment with container id "no-such-container" in \/nonexistent/);
  assert.is(r.stderr.trim().split('\n').length, 1);
});

test('list, inspect, oci and exec on a created attachment; stale pin detected', async () => {
  await withNet(async (net) => {
    const a = net.attachment();
    const add = net.run('ADD', a, net.conf('1.0.0'));
    assert.is(add.status, 0, add.stdout + add.stderr);
    const ip = add.json.ips[0].address as string;
    const dd = ['--data-dir', net.dataDir];

    const list = opJson(['list', '--json', ...dd]);
    assert.is(list.schema, 'userns-netns.list/v1');
    assert.is(list.attachments.length, 1);
    const row = list.attachments[0];
    assert.equal(
      { network: row.network, containerId: row.containerId, ifname: row.ifname, mode: row.mode, phase: row.phase, ips: row.ips, netns: row.netns, userns: row.userns, live: row.live },
      { network: net.name, containerId: a.containerId, ifname: 'eth0', mode: 'create', phase: 'ready', ips: [ip], netns: a.netnsPin, userns: a.usernsPin, live: true },
    );
    assert.match(op(['list', ...dd]).stdout, new RegExp(`${a.containerId}.*${ip.replace(/\./g, '\\.')}.*yes`));

    // Every call is a fresh process reading only files and the kernel: this is the
    // "runtime restarted, nothing in memory" case.
    const ins = opJson(['inspect', a.containerId, '--json', ...dd]);
    assert.is(ins.schema, 'userns-netns.inspect/v1');
    assert.equal(ins.attachments[0].record.result, add.json);
    assert.is(ins.attachments[0].check.live, true, JSON.stringify(ins.attachments[0].check.problems));
    assert.equal(opJson(['inspect', a.netnsPin, '--json', ...dd]).attachments[0].record.containerId, a.containerId);

    const frag = opJson(['oci', a.containerId, ...dd]);
    assert.equal(frag.linux.namespaces, [
      { type: 'user', path: a.usernsPin },
      { type: 'network', path: a.netnsPin },
    ]);
    assert.equal(frag.linux.uidMappings, [{ containerID: 0, hostID: net.hostID, size: 65536 }]);
    const gidMap = sh('nsenter', [`--user=${a.usernsPin}`, 'cat', '/proc/self/gid_map'])
      .trim()
      .split(/\s+/)
      .map(Number);
    assert.equal(frag.linux.gidMappings, [{ containerID: gidMap[0], hostID: gidMap[1], size: gidMap[2] }]);

    const ex = op(['exec', a.netnsPin, '--', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    assert.is(ex.status, 0, ex.stderr);
    assert.match(ex.stdout, ` ${ip} `);
    // Root inside the pod's user namespace, which maps to the configured host id.
    const who = op(['exec', a.containerId, ...dd, '--', 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
    assert.equal(who.stdout.trim().split(/\s+/).map(Number), [0, 0, net.hostID, 65536]);
    assert.is(op(['exec', a.netnsPin, '--', 'sh', '-c', 'exit 7']).status, 7);
    assert.is(op(['exec', a.netnsPin, '--', 'sh', '-c', 'kill -TERM $$']).status, 128 + 15);

    // A stale pin: the live check says so (exit 3), oci refuses with one line.
    sh('umount', [a.netnsPin]);
    const stale = op(['inspect', a.containerId, '--json', ...dd]);
    assert.is(stale.status, 3);
    const check = JSON.parse(stale.stdout).attachments[0].check;
    assert.is(check.live, false);
    assert.is(check.netns.isNamespace, false);
    assert.equal(JSON.parse(stale.stdout).attachments[0].record.result.ips[0].address, ip, 'IPs still given');
    const o = op(['oci', a.containerId, ...dd]);
    assert.is(o.status, 1);
    assert.match(o.stderr, /not live/);
    assert.is(o.stderr.trim().split('\n').length, 1);

    const del = net.run('DEL', a, net.conf('1.0.0'));
    assert.is(del.status, 0, del.stdout);
    assert.equal(opJson(['list', '--json', ...dd]).attachments, []);
  });
});

test.run();
