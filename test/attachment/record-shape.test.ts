// The verbs' record store (openStore) trusts a record only when it has the record schema's shape:
// a file that parses as JSON but is not an attachment record (hand-edited, written by something
// else, cut by a bug) is read as damaged - DEL then releases only what proves to be ours,
// instead of tearing down from fields nobody checked - and such a record is never written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { openStore } from '../../src/attachment/context';
import type { AttachmentRecord } from '../../src/generated/types';
import { ErrorCode } from '../../src/cni/errors';
import { isCorrupt } from '../../src/state/record-store';
import { withTempDir } from '../helpers/temp';
import { throwsCni } from '../helpers/cni-errors';

const key = { network: 'shape', containerId: 'c1', ifname: 'eth0' };

test('a JSON file without the record shape reads as damaged, naming why', () =>
  withTempDir((dir) => {
    const store = openStore(dir);
    mkdirSync(store.recordsDir, { mode: 0o700 });
    writeFileSync(store.fileFor(key), JSON.stringify({ schemaVersion: 'garbage', netns: { path: '/run/netns/x', pin: 'pinned' } }), { mode: 0o600 });
    const rec = store.get(key);
    assert.ok(isCorrupt(rec), `read as ${JSON.stringify(rec)}`);
    assert.match(rec.error, 'does not have the shape of a record');
  }, 'shape'));

test('a record without the shape is never written', () =>
  withTempDir((dir) => {
    const store = openStore(dir);
    const e = throwsCni(() => store.put(key, { schemaVersion: 1, phase: 'ready' } as unknown as AttachmentRecord));
    assert.is(e.code, ErrorCode.Internal);
    assert.match(e.message, 'fails validation');
    assert.is(store.get(key), undefined);
  }, 'shape'));

test.run();
