// names.ts beyond the ordinary cases: the encoding stays injective for every byte (control
// characters included), a file name maps back to a key only if it is that key's one canonical
// name, and a refused key part is named, with its value, in the error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../src/cni/errors';
import { type AttachmentKey, RECORD_NAME_MAX, fileNameToKey, keyToFileName } from '../../src/state/names';
import { expectCniError } from './helpers';

const key = (network: string, containerId: string, ifname: string): AttachmentKey => ({ network, containerId, ifname });

test('bytes under 0x10 are encoded with two hex digits and round-trip, distinct from their neighbours', () => {
  const keys = [key('n', 'c', '\t'), key('n', 'c', '\tA'), key('n', 'c', '\x01'), key('n', 'c', '\x01\x02'), key('n\x0f', 'c', 'eth0')];
  const names = keys.map(keyToFileName);
  assert.is(names[0], 'n+c+%09.json');
  assert.is(names[4], 'n%0F+c+eth0.json');
  assert.is(new Set(names).size, keys.length);
  for (const [i, k] of keys.entries()) assert.equal(fileNameToKey(names[i]!), k, names[i]);
});

test('a file name that is not the canonical name of its key is not a record of that key', () => {
  for (const name of [
    'n+%63+eth0.json', // '%63' is 'c': an alias of n+c+eth0.json
    'n+c+eth%30.json',
    'n+c+eth0.jsonx', // not a .json name at all, whatever its last five characters
    '%6E+c+eth0.json',
    'n+%C3%BC+eth0.json'.replace('%C3%BC', '%c3%bc'), // lowercase hex
  ]) {
    assert.is(fileNameToKey(name), undefined, name);
  }
  assert.equal(fileNameToKey('n+%C3%BC+eth0.json'), key('n', 'ü', 'eth0'), 'the canonical one is');
});

test('a file name whose part is . or .. or decodes to a NUL or a slash is no key, in any of the three parts', () => {
  for (const bad of ['.', '..', '%00', '%2F', 'a%00b']) {
    for (const name of [`${bad}+c+eth0.json`, `n+${bad}+eth0.json`, `n+c+${bad}.json`]) assert.is(fileNameToKey(name), undefined, name);
  }
});

test('a refused key part is named in the error, with its value', async () => {
  const cases: Array<[AttachmentKey, string]> = [
    [key('..', 'c', 'eth0'), 'unsafe network name ".." for a state file name'],
    [key('n', 'a/b', 'eth0'), 'unsafe container id "a/b" for a state file name'],
    [key('n', 'c', ''), 'unsafe interface name "" for a state file name'],
  ];
  for (const [k, message] of cases) {
    const err = await expectCniError(ErrorCode.StateFailure, () => keyToFileName(k));
    assert.is(err.message, message);
  }
});

test('a key too long for a file name: the error shows the start of the name it would have had', async () => {
  const id = 'c'.repeat(RECORD_NAME_MAX);
  const err = await expectCniError(ErrorCode.InvalidEnvironment, () => keyToFileName(key('mynet', id, 'eth0')));
  const bytes = 'mynet++eth0.json'.length + id.length;
  assert.is(
    err.message,
    `CNI_CONTAINERID, CNI_IFNAME and the network name are too long together: their state file name "mynet+${'c'.repeat(34)}..." is ${bytes} bytes, ` + `at most ${RECORD_NAME_MAX} fit (NAME_MAX 255 less 22 for its temp-file name)`,
  );
});

test.run();
