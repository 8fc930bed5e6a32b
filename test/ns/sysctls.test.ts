// net.* sysctls set inside a user-namespaced netns from the plugin's own thread: the pod sees
// them (read through nsenter, as a process inside would), the host's values do not change, and
// ping_group_range is expressed in the pod's gids.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createPinnedNamespaces } from '../../src/ns/index';
import { applySysctls, inHostIds, pingGroupRangeFor, sysctlFile, sysctlValue, PING_GROUP_RANGE } from '../../src/ns/sysctls';
import type { CniError } from '../../src/cni/errors';
import { pinPaths, safeUnpin, cleanupRoot, ONE } from '../helpers/ns-util';

test.after(() => cleanupRoot());

/** What a process inside the pod (its userns and netns) reads. */
function readInPod(p: { netnsPin: string; usernsPin: string }, key: string): string {
  return execFileSync('nsenter', [`--user=${p.usernsPin}`, `--net=${p.netnsPin}`, '--', 'cat', sysctlFile(key)], { encoding: 'utf8' }).trim();
}

test('sysctl names: net.* only, never outside /proc/sys/net; "/" for a dot inside a component', () => {
  assert.is(sysctlFile('net.ipv4.ping_group_range'), '/proc/sys/net/ipv4/ping_group_range');
  assert.is(sysctlFile('net.ipv4.conf.eth0/100.rp_filter'), '/proc/sys/net/ipv4/conf/eth0.100/rp_filter');
  for (const bad of ['kernel.pid_max', 'net', 'net.', 'net..ipv4', 'net.ipv4.conf.//.x', 'net.ipv4/../../kernel/x', 'net.ipv4.a b', 'net.ipv4.conf./x']) {
    assert.throws(
      () => sysctlFile(bad),
      (e: CniError) => e.code === 7 && e.message.includes(JSON.stringify(bad)),
      bad,
    );
  }
  assert.is(sysctlValue('k', 1), '1');
  assert.is(sysctlValue('k', '0 65535'), '0 65535');
  for (const bad of ['a\nb', 1.5, null, {}, 'x'.repeat(4097)])
    assert.throws(
      () => sysctlValue('net.k', bad),
      (e: CniError) => e.code === 7 && e.message.includes('net.k'),
    );
});

test('ping_group_range: the pod gid range, mapped to host gids; unmapped gids refused naming the key', () => {
  const gids = [{ containerID: 0, hostID: 100000, size: 65536 }];
  assert.is(pingGroupRangeFor(gids), '100000 165535');
  assert.equal(inHostIds({ key: PING_GROUP_RANGE, value: '0 999' }, gids), { key: PING_GROUP_RANGE, value: '100000 100999' });
  assert.equal(inHostIds({ key: PING_GROUP_RANGE, value: '1 0' }, gids).value, '1 0');
  assert.throws(
    () => inHostIds({ key: PING_GROUP_RANGE, value: '0 70000' }, gids),
    (e: CniError) => e.code === 7 && /gid 70000 .* not mapped/.test(e.message),
  );
  assert.equal(inHostIds({ key: 'net.ipv4.ip_forward', value: '1' }, gids).value, '1');
});

test('applied inside the netns: the pod reads them, the host keeps its own', async () => {
  const p = pinPaths();
  const hostPing = readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8').trim();
  const hostFwd = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  try {
    await createPinnedNamespaces({ mappings: ONE, ...p, loopbackUp: true });
    applySysctls(p.netnsPin, [
      { key: PING_GROUP_RANGE, value: pingGroupRangeFor(ONE.gidMappings)! },
      { key: 'net.ipv4.ip_forward', value: hostFwd === '1' ? '0' : '1' },
      { key: 'net.ipv4.conf.lo.rp_filter', value: '2' },
    ]);
    assert.is(readInPod(p, PING_GROUP_RANGE).replace(/\s+/g, ' '), '0 65535');
    assert.is(readInPod(p, 'net.ipv4.ip_forward'), hostFwd === '1' ? '0' : '1');
    assert.is(readInPod(p, 'net.ipv4.conf.lo.rp_filter'), '2');
    assert.is(readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8').trim(), hostPing, 'host unchanged');
    assert.is(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), hostFwd, 'host unchanged');
    // This (main) thread is back in the netns every other thread of the process is in.
    const tasks = readdirSync('/proc/self/task').map((t) => readlinkSync(`/proc/self/task/${t}/ns/net`));
    assert.is(new Set(tasks).size, 1, tasks.join(' '));

    assert.throws(
      () => applySysctls(p.netnsPin, [{ key: 'net.ipv4.no_such_thing', value: '1' }]),
      (e: CniError) => e.code === 100 && e.message.includes('net.ipv4.no_such_thing') && e.message.includes('ENOENT'),
    );
    assert.throws(
      () => applySysctls(p.netnsPin, [{ key: 'net.ipv4.ip_forward', value: 'banana' }]),
      (e: CniError) => e.code === 100 && e.message.includes('net.ipv4.ip_forward') && e.message.includes('EINVAL'),
    );
  } finally {
    safeUnpin(p.netnsPin, p.usernsPin);
  }
});

test.run();
