import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseDelegateVersion, injectRuntimeConfig, prepareDelegateConf } from '../../src/delegate/prepare';
import { throwsCni } from './helpers/kit';

const DEBIAN = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'];

const prev11 = {
  cniVersion: '1.1.0',
  interfaces: [{ name: 'eth0', mac: 'aa:bb:cc:dd:ee:ff', sandbox: '/run/netns/p', mtu: 1400 }],
  ips: [{ interface: 0, address: '10.7.0.2/24', gateway: '10.7.0.1' }],
  routes: [{ dst: '0.0.0.0/0', gw: '10.7.0.1', table: 100 }],
};

test('version: highest common, capped at the config version', () => {
  assert.is(chooseDelegateVersion('1.1.0', DEBIAN), '1.0.0');
  assert.is(chooseDelegateVersion('1.0.0', DEBIAN), '1.0.0');
  assert.is(chooseDelegateVersion('0.4.0', DEBIAN), '0.4.0');
  assert.is(chooseDelegateVersion('0.3.1', [...DEBIAN, '1.1.0']), '0.3.1');
  const e = throwsCni(() => chooseDelegateVersion('1.1.0', ['0.1.0', '0.2.0'], 'old'));
  assert.is(e.code, 1);
  assert.match(e.message, /plugin "old" supports none .* up to 1.1.0 \(it supports: 0.1.0, 0.2.0\)/);
});

test('injects name, cniVersion and the converted prevResult; input untouched', () => {
  const delegate = { type: 'bridge', bridge: 'br0', ipam: { type: 'host-local' } };
  const frozen = structuredClone(delegate);
  const conf = prepareDelegateConf(delegate, {
    name: 'net1',
    cniVersion: '1.1.0',
    delegateVersions: DEBIAN,
    prevResult: prev11,
  });
  assert.equal(conf, {
    type: 'bridge',
    bridge: 'br0',
    ipam: { type: 'host-local' },
    name: 'net1',
    cniVersion: '1.0.0',
    prevResult: {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', mac: 'aa:bb:cc:dd:ee:ff', sandbox: '/run/netns/p' }],
      ips: [{ interface: 0, address: '10.7.0.2/24', gateway: '10.7.0.1' }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.7.0.1' }],
    },
  });
  assert.equal(delegate, frozen);
  (conf.ipam as Record<string, unknown>).type = 'changed';
  assert.is(delegate.ipam.type, 'host-local', 'no shared objects');
});

test('0.4.0 config: prevResult gains ips[].version; no prevResult means none, even a stale one', () => {
  const conf = prepareDelegateConf({ type: 'portmap', name: 'ignored', cniVersion: '9.9.9', prevResult: { stale: true } }, { name: 'net1', cniVersion: '0.4.0', delegateVersions: DEBIAN });
  assert.equal(conf, { type: 'portmap', name: 'net1', cniVersion: '0.4.0' });
  const withPrev = prepareDelegateConf({ type: 'portmap' }, { name: 'n', cniVersion: '0.4.0', prevResult: prev11 });
  assert.equal((withPrev.prevResult as { ips: unknown[] }).ips, [{ version: '4', interface: 0, address: '10.7.0.2/24', gateway: '10.7.0.1' }]);
});

test('unsupported config version: code 1', () => {
  assert.is(throwsCni(() => prepareDelegateConf({ type: 'x' }, { name: 'n', cniVersion: '0.2.0' })).code, 1);
});

test('runtimeConfig: only capabilities the delegate declares, merged with its own', () => {
  const caps = { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], bandwidth: { rate: 1 } };
  assert.equal(injectRuntimeConfig({ type: 'bridge' }, caps), { type: 'bridge' });
  assert.equal(injectRuntimeConfig({ type: 'portmap', capabilities: { portMappings: true, bandwidth: false }, runtimeConfig: { keep: 1 } }, caps), {
    type: 'portmap',
    capabilities: { portMappings: true, bandwidth: false },
    runtimeConfig: { keep: 1, portMappings: caps.portMappings },
  });
});

test.run();
