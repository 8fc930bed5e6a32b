import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../src/cni/errors';
import { type AttachmentKey, RECORD_NAME_MAX, fileNameToKey, keyToFileName } from '../../src/state/names';
import { expectCniError } from './helpers';

const key = (network: string, containerId: string, ifname: string): AttachmentKey => ({ network, containerId, ifname });

test('ordinary CNI names pass through readably and round-trip', () => {
  const k = key('mynet', '3f2a9c0d1e', 'eth0');
  assert.is(keyToFileName(k), 'mynet+3f2a9c0d1e+eth0.json');
  assert.equal(fileNameToKey(keyToFileName(k)), k);
});

test('unusual characters (allowed in ifnames) are encoded and round-trip', () => {
  for (const k of [key('net.v1', 'a_b-c.d', 'eth0.100'), key('n', 'c', 'if+x%y'), key('n', 'c', 'wlan@ü'), key('n', 'c', '.hidden'), key('n', 'c', 'a b:c\\d')]) {
    const name = keyToFileName(k);
    assert.not.ok(name.includes('/'), name);
    assert.equal(name.split('+').length, 3, name);
    assert.equal(fileNameToKey(name), k);
  }
});

test('the encoding is unambiguous: moving a separator between parts changes the name', () => {
  const a = keyToFileName(key('a+b', 'c', 'd'));
  const b = keyToFileName(key('a', 'b+c', 'd'));
  const c = keyToFileName(key('a', 'b', 'c+d'));
  assert.ok(a !== b && b !== c && a !== c);
});

test('traversal and empty parts are rejected', async () => {
  for (const k of [
    key('', 'c', 'eth0'),
    key('n', '.', 'eth0'),
    key('n', '..', 'eth0'),
    key('..', 'c', 'eth0'),
    key('n', '../../etc/passwd', 'eth0'),
    key('n', 'c', 'a/b'),
    key('n', 'c\0x', 'eth0'),
    key('n', 'c', '/'),
    { network: 'n', containerId: undefined, ifname: 'eth0' } as unknown as AttachmentKey,
  ]) {
    await expectCniError(ErrorCode.StateFailure, () => keyToFileName(k));
  }
});

test('keys too long for one file name are rejected, not truncated', async () => {
  const err = await expectCniError(ErrorCode.InvalidEnvironment, () => keyToFileName(key('n'.repeat(200), 'c'.repeat(64), 'eth0')));
  assert.match(err.message, /too long/);
});

test('the limit counts the longest derived name: every record name that passes has a temp name within NAME_MAX', async () => {
  // "n+<id>+eth0.json" is 12 bytes plus the id.
  for (let len = 200; len <= 260; len++) {
    const k = key('n', 'c'.repeat(len - 12), 'eth0');
    if (len <= RECORD_NAME_MAX) {
      const name = keyToFileName(k);
      assert.is(Buffer.byteLength(name), len);
      // writeFileAtomic's temp name with the longest pid (pid_max 4194304: 7 digits).
      assert.ok(Buffer.byteLength(`.${name}.4194303.0123abcd.tmp`) <= 255, `${len}`);
    } else {
      const err = await expectCniError(ErrorCode.InvalidEnvironment, () => keyToFileName(k));
      assert.match(err.message, new RegExp(`${len} bytes, at most ${RECORD_NAME_MAX} fit \\(NAME_MAX 255`));
    }
  }
  assert.is(RECORD_NAME_MAX, 233);
});

test('fileNameToKey ignores names the store did not write', () => {
  for (const name of [
    'a+b+c', // no suffix
    'a+b.json', // two parts
    'a+b+c+d.json', // four parts
    '+b+c.json', // empty part
    'a+%2E%2E+c.json', // non-canonical '..'
    'a+..+c.json', // '..' itself
    'a+x%2Fy+c.json', // decodes to a '/'
    'a+%2f+c.json', // lowercase hex is not canonical
    'a+%ZZ+c.json',
    'a+%C3+c.json', // invalid UTF-8
    '.rec.json.1.ab.tmp',
  ]) {
    assert.is(fileNameToKey(name), undefined, name);
  }
});

test.run();
