import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SUPPORTED_VERSIONS, compareVersions, highestCommon, isSupported, isValidVersion } from '../../src/cni/versions';

// What Debian's containernetworking-plugins 1.1.1 answer to VERSION.
const DEBIAN = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'];

test('supported versions are the five we speak, oldest first', () => {
  assert.equal([...SUPPORTED_VERSIONS], ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
  const sorted = [...SUPPORTED_VERSIONS].sort(compareVersions);
  assert.equal(sorted, [...SUPPORTED_VERSIONS]);
});

test('compareVersions is numeric per component, not lexical', () => {
  assert.ok(compareVersions('0.3.1', '0.3.0') > 0);
  assert.ok(compareVersions('0.4.0', '1.0.0') < 0);
  assert.ok(compareVersions('1.10.0', '1.9.0') > 0);
  assert.is(compareVersions('1.1.0', '1.1.0'), 0);
  assert.throws(() => compareVersions('1.0', '1.0.0'), /not a CNI version: "1.0"/);
  assert.throws(() => compareVersions('1.0.0', 'v1.0.0'), /"v1.0.0"/);
});

test('isSupported / isValidVersion', () => {
  for (const v of SUPPORTED_VERSIONS) assert.ok(isSupported(v), v);
  for (const v of ['0.1.0', '0.2.0', '1.2.0', '', '1.0', undefined, 1]) assert.not.ok(isSupported(v));
  assert.ok(isValidVersion('0.2.0'));
  assert.not.ok(isValidVersion('1.0.0-rc1'));
  assert.not.ok(isValidVersion(null));
});

test('highestCommon picks the newest shared version', () => {
  assert.is(highestCommon(SUPPORTED_VERSIONS, DEBIAN), '1.0.0');
  assert.is(highestCommon(SUPPORTED_VERSIONS, [...DEBIAN, '1.1.0']), '1.1.0');
  // Order of either list does not matter.
  assert.is(highestCommon(['1.1.0', '0.3.0'], ['0.3.0', '1.1.0']), '1.1.0');
});

test('highestCommon honours the cap (never above the config version)', () => {
  assert.is(highestCommon(SUPPORTED_VERSIONS, DEBIAN, '0.4.0'), '0.4.0');
  assert.is(highestCommon(SUPPORTED_VERSIONS, DEBIAN, '1.1.0'), '1.0.0');
  assert.is(highestCommon(SUPPORTED_VERSIONS, ['0.3.0', '1.0.0'], '0.3.1'), '0.3.0');
});

test('highestCommon: nothing shared, garbage ignored', () => {
  assert.is(highestCommon(SUPPORTED_VERSIONS, ['0.1.0', '0.2.0']), undefined);
  assert.is(highestCommon(SUPPORTED_VERSIONS, []), undefined);
  assert.is(highestCommon(SUPPORTED_VERSIONS, ['x', '1.0', '0.4.0']), '0.4.0');
  assert.is(highestCommon(SUPPORTED_VERSIONS, ['1.1.0'], '1.0.0'), undefined);
});

test.run();
