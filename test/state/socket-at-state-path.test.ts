// A unix socket, or a shortage of file descriptors, where a state file is read. A socket fails
// open() itself (ENXIO), before any fstat could tell what it is: it must still read as what it
// is, an unusable file that DEL and GC clear, and never as an I/O failure that stops them for
// good. A real I/O failure (here EMFILE) must stay one: a record taken for damaged is dropped.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../src/cni/errors';
import { readTrustedFile, trustedFileSize } from '../../src/sys/trusted-fs';
import { type AttachmentKey, RecordStore, isCorrupt } from '../../src/state/record-store';
import { socketAt } from '../helpers/unix-socket';
import { expectCniError, withTempDir } from './helpers';

const key = (containerId: string): AttachmentKey => ({ network: 'net1', containerId, ifname: 'eth0' });

test('read: a socket is refused as what it is (code 102, naming it), not an I/O failure', () =>
  withTempDir(async (dir) => {
    const sock = path.join(dir, 'sock');
    await socketAt(sock);
    for (const read of [readTrustedFile, trustedFileSize]) {
      const err = await expectCniError(ErrorCode.StateFailure, () => read(sock));
      assert.is(err.message, `${sock} is a socket, not a regular file`);
    }
  }));

test('a socket at a record path: get and list call it corrupt, the other records still list, delete removes only the socket', () =>
  withTempDir(async (dir) => {
    const store = new RecordStore(dir);
    store.put(key('good'), { ip: '10.0.0.2' });
    store.put(key('sock'), { ip: '10.0.0.3' });
    const file = store.fileFor(key('sock'));
    fs.unlinkSync(file);
    await socketAt(file);

    const got = store.get(key('sock'));
    assert.ok(isCorrupt(got), `corrupt, not thrown: ${JSON.stringify(got)}`);
    assert.match(got.error, 'is a socket');
    const listed = store.list();
    assert.equal(
      listed.map((e) => [e.key.containerId, isCorrupt(e.record)]),
      [
        ['good', false],
        ['sock', true],
      ],
    );
    assert.is(store.delete(key('sock')), true);
    assert.not.ok(fs.readdirSync(store.recordsDir).includes('net1+sock+eth0.json'));
    assert.equal(store.get(key('good')), { ip: '10.0.0.2' });
  }));

test('no file descriptor left (EMFILE): get throws the I/O failure (code 5) and the record is not taken for damaged', () =>
  withTempDir((dir) => {
    const store = new RecordStore(dir);
    store.put(key('c1'), { ip: '10.0.0.2' });
    const held: number[] = [];
    let thrown: unknown;
    try {
      // Synchronous from here to the close below: nothing else in this process needs an fd meanwhile.
      for (;;) {
        try {
          held.push(fs.openSync('/dev/null', 'r'));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EMFILE') break;
          throw err;
        }
      }
      try {
        store.get(key('c1'));
      } catch (err) {
        thrown = err;
      }
    } finally {
      for (const fd of held) fs.closeSync(fd);
    }
    assert.ok(held.length > 0, 'fds were taken');
    assert.is((thrown as { code?: number } | undefined)?.code, ErrorCode.IoFailure, `an I/O failure: ${String(thrown)}`);
    assert.match(String((thrown as Error).message), `cannot open ${store.fileFor(key('c1'))}: EMFILE`);
    assert.equal(store.get(key('c1')), { ip: '10.0.0.2' }, 'the record is still there and readable');
  }));

test.run();
