import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { delegateEnv, withIgnoreUnknown } from '../../src/delegate/env';

test('IgnoreUnknown=1 is added when missing, kept when the caller set it', () => {
  assert.is(withIgnoreUnknown(undefined), 'IgnoreUnknown=1');
  assert.is(withIgnoreUnknown(''), 'IgnoreUnknown=1');
  assert.is(withIgnoreUnknown('K8S_POD_NAME=web;K8S_POD_NAMESPACE=default'), 'IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=default');
  assert.is(withIgnoreUnknown('IgnoreUnknown=true;A=1'), 'IgnoreUnknown=true;A=1');
  assert.is(withIgnoreUnknown('A=1;IgnoreUnknown=0'), 'A=1;IgnoreUnknown=0');
  // Go matches the key case-sensitively, so "ignoreunknown" does not count.
  assert.is(withIgnoreUnknown('ignoreunknown=1'), 'IgnoreUnknown=1;ignoreunknown=1');
  assert.is(withIgnoreUnknown('A=1;;'), 'IgnoreUnknown=1;A=1');
});

test('protocol variables replace inherited ones; empty means unset', () => {
  const base = {
    PATH: '/usr/bin',
    CNI_NETNS: '/run/netns/runtime-gave-this',
    CNI_IFNAME: 'eth9',
    CNI_CONTAINERID: 'runtime-id',
    CNI_COMMAND: 'ADD',
    CNI_ARGS: 'K8S_POD_NAME=x',
  };
  const env = delegateEnv('DEL', { containerId: 'c1', netns: '', ifname: undefined, cniPath: '/a:/b' }, base);
  assert.equal(env, {
    PATH: '/usr/bin',
    CNI_COMMAND: 'DEL',
    CNI_CONTAINERID: 'c1',
    CNI_PATH: '/a:/b',
    CNI_ARGS: 'IgnoreUnknown=1',
  });
  assert.is(base.CNI_NETNS, '/run/netns/runtime-gave-this', 'base env not modified');
});

test.run();
