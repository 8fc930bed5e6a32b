// The ADD-time check of a delegate's result: everything it lets through converts to every
// version we speak; everything else is refused with the offending field named.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_RESULT_BYTES, checkResult, readResult } from '../../src/cni/result-check';
import { convertResult } from '../../src/cni/result-convert';
import { CniError } from '../../src/cni/errors';
import { SUPPORTED_VERSIONS } from '../../src/cni/versions';

function refused(doc: unknown, expected: string | RegExp): void {
  try {
    checkResult(doc);
  } catch (err) {
    assert.instance(err, CniError);
    assert.is((err as CniError).code, 6);
    if (typeof expected === 'string') assert.is((err as Error).message, expected);
    else assert.match((err as Error).message, expected);
    return;
  }
  assert.unreachable(`accepted ${JSON.stringify(doc)}`);
}

const GOOD = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', mac: '0a:58:0a:00:00:05', sandbox: '/run/netns/x' }],
  ips: [
    { interface: 0, address: '10.0.0.5/24', gateway: '10.0.0.1' },
    { address: 'fd00::5/64', gateway: '' },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }, { dst: '::/0' }],
  dns: { nameservers: ['10.0.0.1'] },
  extra: { ignored: true },
};

test('a good result passes unchanged and converts to every version', () => {
  assert.equal(checkResult(GOOD), GOOD);
  for (const v of SUPPORTED_VERSIONS) convertResult(GOOD, v);
  assert.equal(checkResult({ cniVersion: '0.4.0' }), { cniVersion: '0.4.0' });
});

test("the issue's reproductions are refused, naming the field", () => {
  refused({ cniVersion: '1.0.0', ips: 'notalist' }, 'ips: must be array (got "notalist")');
  refused({ code: 7, msg: 'nope' }, 'is an error document (code 7, msg "nope") although the plugin exited with status 0');
  refused({ cniVersion: '9.9.9' }, /^cniVersion: must be one of "0.3.0", .* \(got "9.9.9"\)$/);
  refused({ cniVersion: '1.0.0', interfaces: { name: 'eth0' } }, /^interfaces: must be array/);
  refused({ cniVersion: '1.0.0', routes: 'default' }, /^routes: must be array/);
  // Valid for 1.0.0, but a 0.4.0 delegate's prevResult needs ips[].version, derived from the prefix form.
  refused({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.5' }] }, 'ips[0].address: "10.0.0.5" is not an address with a prefix (e.g. "10.0.0.5/24")');
});

test('wrong types, bad addresses, bad versions', () => {
  refused([GOOD], /^must be a JSON object, got \[\{"cniVersion"/);
  refused(null, 'must be a JSON object, got null');
  refused(42, 'must be a JSON object, got 42');
  refused({ ips: [] }, 'cniVersion: required key missing');
  refused({ cniVersion: 1 }, /^cniVersion: must be one of/);
  refused({ cniVersion: '0.2.0', ip4: { ip: '10.0.0.5/24' } }, /got "0.2.0"/);
  refused({ cniVersion: '1.0.0', ips: [7] }, /^ips\[0\]: must be object/);
  refused({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.5/33' }] }, /^ips\[0\]\.address: "10.0.0.5\/33"/);
  refused({ cniVersion: '1.0.0', ips: [{ address: 'fe80::1%eth0/64' }] }, /^ips\[0\]\.address/);
  refused({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.5/24', gateway: 'router' }] }, 'ips[0].gateway: "router" is not an IP address');
  refused({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.5/24', interface: -1 }] }, /^ips\[0\]\.interface: must be >= 0/);
  refused({ cniVersion: '1.0.0', routes: [{ dst: '0.0.0.0' }] }, 'routes[0].dst: "0.0.0.0" is not a destination with a prefix (e.g. "0.0.0.0/0")');
  refused({ cniVersion: '1.0.0', routes: [{ dst: '0.0.0.0/0', gw: 5 }] }, /^routes\[0\]\.gw: must be string/);
  refused({ cniVersion: '1.1.0', routes: [{ dst: '0.0.0.0/0', mtu: 1.5 }] }, /^routes\[0\]\.mtu: must be integer/);
  refused({ cniVersion: '1.0.0', interfaces: [{ mac: 'x' }] }, 'interfaces[0].name: required key missing');
  refused({ cniVersion: '1.0.0', dns: { nameservers: '1.1.1.1' } }, /^dns\.nameservers: must be array/);
  refused({ cniVersion: '0.4.0', ips: [{ version: '5', address: '10.0.0.5/24' }] }, /^ips\[0\]\.version: must be one of "4", "6"/);
});

test('stdout: empty, not JSON, too large', () => {
  assert.throws(() => readResult('  \n'), /^empty/);
  assert.throws(() => readResult('{"cniVersion":'), /^not JSON: "\{\\"cniVersion\\":"/);
  assert.throws(() => readResult(JSON.stringify({ cniVersion: '1.0.0', pad: 'x'.repeat(MAX_RESULT_BYTES) })), /more than the 1048576 a result may have/);
  assert.equal(readResult('\n{"cniVersion":"1.0.0"}\n'), { cniVersion: '1.0.0' });
});

test.run();
