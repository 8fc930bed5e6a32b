// Which sysctls an ADD sets in the pod's netns, decided from the config and the record alone
// (podSysctls, no kernel): the pod's ping_group_range follows its gid map only for a netns
// owned by the pod's user namespace, an explicit one (in pod gids) wins, and "unchanged" keeps
// the kernel's. The e2e file test/e2e/sysctls.test.ts shows the values land in a real netns.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { podSysctls } from '../../src/attachment/pod-sysctls';
import { loadNetConf } from '../../src/config/netconf';
import type { AttachmentRecord } from '../../src/generated/types';
import { CniError } from '../../src/cni/errors';

type IdMappings = NonNullable<AttachmentRecord['mappings']>;

const PGR = 'net.ipv4.ping_group_range';

function conf(extra: Record<string, unknown> = {}) {
  return loadNetConf({ cniVersion: '1.0.0', name: 'plan', type: 'userns-netns', delegates: [{ type: 'bridge' }], ...extra }, 'ADD');
}

/** What podSysctls reads of a record: who owns the netns's user namespace, and its maps. */
function rec(hostOwned: boolean | undefined, mappings?: IdMappings): AttachmentRecord {
  return { userns: { path: '', pin: 'none', ...(hostOwned === undefined ? {} : { hostOwned }) }, ...(mappings ? { mappings } : {}) } as unknown as AttachmentRecord;
}

const uidOnly: IdMappings = { uidMappings: [{ containerID: 0, hostID: 200000, size: 65536 }] };
const withGids: IdMappings = { uidMappings: [{ containerID: 0, hostID: 200000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 300000, size: 1000 }] };

test('a netns owned by the pod userns: ping_group_range is its gid range in host gids, before the configured sysctls', () => {
  assert.equal(podSysctls(conf({ sysctls: { 'net.ipv4.ip_default_ttl': 42 } }), rec(false, withGids)), [
    { key: PGR, value: '300000 300999' },
    { key: 'net.ipv4.ip_default_ttl', value: '42' },
  ]);
});

test('no gid map recorded: the gids follow the uid map, as the kernel maps them', () => {
  assert.equal(podSysctls(conf(), rec(false, uidOnly)), [{ key: PGR, value: '200000 265535' }]);
});

test('a host-owned netns (or one whose owner is unknown) keeps its ping_group_range; its sysctls pass untranslated', () => {
  assert.equal(podSysctls(conf(), rec(true, withGids)), []);
  assert.equal(podSysctls(conf(), rec(undefined, withGids)), []);
  assert.equal(podSysctls(conf({ sysctls: { [PGR]: '100 200' } }), rec(true, withGids)), [{ key: PGR, value: '100 200' }]);
});

test('a pod-owned netns without recorded maps gets no ping_group_range', () => {
  assert.equal(podSysctls(conf({ sysctls: { 'net.ipv4.ip_default_ttl': 7 } }), rec(false)), [{ key: 'net.ipv4.ip_default_ttl', value: '7' }]);
});

test('pingGroupRange "unchanged": no ping_group_range, the other sysctls still set', () => {
  assert.equal(podSysctls(conf({ pingGroupRange: 'unchanged' }), rec(false, withGids)), []);
  assert.equal(podSysctls(conf({ pingGroupRange: 'unchanged', sysctls: { 'net.ipv4.ip_default_ttl': 9 } }), rec(false, withGids)), [{ key: 'net.ipv4.ip_default_ttl', value: '9' }]);
});

test('an explicit ping_group_range is in pod gids: mapped to host gids, and the only one', () => {
  assert.equal(podSysctls(conf({ sysctls: { 'net.ipv4.ip_default_ttl': 42, [PGR]: '10 20' } }), rec(false, withGids)), [
    { key: 'net.ipv4.ip_default_ttl', value: '42' },
    { key: PGR, value: '300010 300020' },
  ]);
  const e = (() => {
    try {
      podSysctls(conf({ sysctls: { [PGR]: '10 2000' } }), rec(false, withGids));
    } catch (err) {
      return err;
    }
  })();
  assert.instance(e, CniError, 'a gid outside the map is refused');
  assert.match((e as CniError).message, PGR);
});

test.run();
