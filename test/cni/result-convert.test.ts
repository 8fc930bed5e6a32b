import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { convertResult } from '../../src/cni/result-convert';
import { CniError } from '../../src/cni/errors';

// Hand-written results, one per version shape. Dual stack, two interfaces (host veth and
// the container's eth0), DNS, routes: everything a conversion can touch.

const R1_1 = {
  cniVersion: '1.1.0',
  interfaces: [
    { name: 'br-test', mac: 'aa:bb:cc:00:00:01' },
    { name: 'veth1234', mac: 'aa:bb:cc:00:00:02', mtu: 1500 },
    {
      name: 'eth0',
      mac: 'aa:bb:cc:00:00:03',
      mtu: 1400,
      sandbox: '/run/netns/pod1',
      socketPath: '/run/vhost/pod1.sock',
      pciID: '0000:00:1f.6',
    },
  ],
  ips: [
    { interface: 2, address: '10.22.0.5/24', gateway: '10.22.0.1' },
    { interface: 2, address: 'fd00:22::5/64', gateway: 'fd00:22::1' },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.22.0.1', mtu: 1400, advmss: 1360, priority: 100, table: 254, scope: 0 }, { dst: '::/0' }],
  dns: { nameservers: ['10.22.0.1'], domain: 'pod.local', search: ['pod.local'], options: ['ndots:2'] },
};

const R1_0 = {
  cniVersion: '1.0.0',
  interfaces: [
    { name: 'br-test', mac: 'aa:bb:cc:00:00:01' },
    { name: 'veth1234', mac: 'aa:bb:cc:00:00:02' },
    { name: 'eth0', mac: 'aa:bb:cc:00:00:03', sandbox: '/run/netns/pod1' },
  ],
  ips: [
    { interface: 2, address: '10.22.0.5/24', gateway: '10.22.0.1' },
    { interface: 2, address: 'fd00:22::5/64', gateway: 'fd00:22::1' },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.22.0.1' }, { dst: '::/0' }],
  dns: { nameservers: ['10.22.0.1'], domain: 'pod.local', search: ['pod.local'], options: ['ndots:2'] },
};

/** What 1.1.0 looks like when it came from a lower version: no 1.1-only fields to restore. */
const R1_1_FROM_LOWER = { ...R1_0, cniVersion: '1.1.0' };

const R0_4 = {
  cniVersion: '0.4.0',
  interfaces: [
    { name: 'br-test', mac: 'aa:bb:cc:00:00:01' },
    { name: 'veth1234', mac: 'aa:bb:cc:00:00:02' },
    { name: 'eth0', mac: 'aa:bb:cc:00:00:03', sandbox: '/run/netns/pod1' },
  ],
  ips: [
    { version: '4', interface: 2, address: '10.22.0.5/24', gateway: '10.22.0.1' },
    { version: '6', interface: 2, address: 'fd00:22::5/64', gateway: 'fd00:22::1' },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.22.0.1' }, { dst: '::/0' }],
  dns: { nameservers: ['10.22.0.1'], domain: 'pod.local', search: ['pod.local'], options: ['ndots:2'] },
};
const R0_3_1 = { ...R0_4, cniVersion: '0.3.1' };
const R0_3_0 = { ...R0_4, cniVersion: '0.3.0' };

const BY_VERSION: Record<string, object> = {
  '0.3.0': R0_3_0,
  '0.3.1': R0_3_1,
  '0.4.0': R0_4,
  '1.0.0': R1_0,
  '1.1.0': R1_1,
};
const VERSIONS = Object.keys(BY_VERSION);

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
for (const r of Object.values(BY_VERSION)) deepFreeze(r);

test('1.1.0 -> 1.0.0 drops the 1.1-only interface and route fields', () => {
  assert.equal(convertResult(R1_1, '1.0.0'), R1_0);
});

test('1.0.0 -> 1.1.0 only changes cniVersion', () => {
  assert.equal(convertResult(R1_0, '1.1.0'), R1_1_FROM_LOWER);
});

test('1.0.0 -> 0.4.0 adds ips[].version from the address', () => {
  assert.equal(convertResult(R1_0, '0.4.0'), R0_4);
});

test('0.4.0 -> 1.0.0 drops ips[].version', () => {
  assert.equal(convertResult(R0_4, '1.0.0'), R1_0);
});

test('1.1.0 -> 0.3.0 drops 1.1 fields and adds ips[].version', () => {
  assert.equal(convertResult(R1_1, '0.3.0'), R0_3_0);
});

test('0.3.1 -> 1.1.0', () => {
  assert.equal(convertResult(R0_3_1, '1.1.0'), R1_1_FROM_LOWER);
});

test('0.3.0 <-> 0.3.1 <-> 0.4.0 only change cniVersion', () => {
  assert.equal(convertResult(R0_3_0, '0.4.0'), R0_4);
  assert.equal(convertResult(R0_4, '0.3.1'), R0_3_1);
  assert.equal(convertResult(R0_3_1, '0.3.0'), R0_3_0);
});

test('every pair of supported versions, both directions', () => {
  for (const from of VERSIONS) {
    for (const to of VERSIONS) {
      const expected = to === '1.1.0' && from !== '1.1.0' ? R1_1_FROM_LOWER : BY_VERSION[to];
      assert.equal(convertResult(BY_VERSION[from], to), expected, `${from} -> ${to}`);
    }
  }
});

test('round trip through a lower version keeps everything that version knows', () => {
  const down = convertResult(R1_1, '0.4.0');
  assert.equal(convertResult(down, '1.0.0'), R1_0);
});

test('pure: input untouched (frozen), output shares no objects with it', () => {
  const input = structuredClone(R1_0) as typeof R1_0;
  const out = convertResult(input, '1.0.0') as typeof R1_0;
  assert.equal(out, R1_0);
  out.dns.nameservers.push('1.1.1.1');
  out.interfaces[0]!.name = 'changed';
  assert.equal(input, R1_0);
});

test('ips[].version is derived from the address, never copied from the input', () => {
  const lying = { cniVersion: '0.4.0', ips: [{ version: '6', address: '10.1.2.3/16' }] };
  assert.equal(convertResult(lying, '0.3.1'), {
    cniVersion: '0.3.1',
    ips: [{ version: '4', address: '10.1.2.3/16' }],
  });
});

test('IPv4-mapped IPv6 counts as "4", as Go does', () => {
  const r = { cniVersion: '1.0.0', ips: [{ address: '::ffff:10.0.0.1/128' }, { address: '::1/128' }] };
  assert.equal(convertResult(r, '0.4.0'), {
    cniVersion: '0.4.0',
    ips: [
      { version: '4', address: '::ffff:10.0.0.1/128' },
      { version: '6', address: '::1/128' },
    ],
  });
});

test('minimal results: absent sections stay absent, empty ones stay empty', () => {
  assert.equal(convertResult({ cniVersion: '1.0.0' }, '0.4.0'), { cniVersion: '0.4.0' });
  assert.equal(convertResult({ cniVersion: '0.3.0', ips: [], dns: {} }, '1.1.0'), {
    cniVersion: '1.1.0',
    ips: [],
    dns: {},
  });
});

test('fields no version knows are dropped (like a typed re-encode)', () => {
  const r = {
    cniVersion: '1.0.0',
    extra: 1,
    interfaces: [{ name: 'eth0', bogus: true }],
    dns: { nameservers: [], weird: 'x' },
  };
  assert.equal(convertResult(r, '1.0.0'), {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'eth0' }],
    dns: { nameservers: [] },
  });
});

function throwsCode(fn: () => unknown, code: number, re: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, CniError);
    assert.is((e as CniError).code, code);
    assert.match((e as CniError).message, re);
    return;
  }
  assert.unreachable('expected a CniError');
}

test('unsupported source or target version: code 1', () => {
  throwsCode(() => convertResult({ cniVersion: '0.2.0', ip4: {} }, '1.0.0'), 1, /"0.2.0"/);
  throwsCode(() => convertResult({ ips: [] }, '1.0.0'), 1, /undefined|version/);
  throwsCode(() => convertResult(R1_0, '2.0.0'), 1, /"2.0.0"/);
});

test('malformed results: code 6 naming the path', () => {
  throwsCode(() => convertResult('nope', '1.0.0'), 6, /must be a JSON object/);
  throwsCode(() => convertResult({ cniVersion: '1.0.0', ips: {} }, '1.0.0'), 6, /ips: must be an array/);
  throwsCode(() => convertResult({ cniVersion: '1.0.0', routes: [1] }, '1.0.0'), 6, /routes\[0\]/);
  throwsCode(() => convertResult({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.1' }] }, '0.4.0'), 6, /ips\[0\].address: must be an address in CIDR form, got "10.0.0.1"/);
  throwsCode(() => convertResult({ cniVersion: '1.0.0', dns: [] }, '1.0.0'), 6, /dns: must be an object/);
});

test.run();
