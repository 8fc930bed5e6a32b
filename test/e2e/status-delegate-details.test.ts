// STATUS relays a delegate's own failure as one of its problems: labelled with the delegate's
// type, and keeping the delegate's "details" in the answer, where an operator looks for why.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_BIN, runPlugin } from '../helpers/plugin';
import { withTempDir } from '../helpers/temp';
import { uniqueName } from '../helpers/unique';

test("a 1.1.0 delegate's STATUS failure: code 50, the message labelled with its type, its details kept", () =>
  withTempDir((dir) => {
    copyFileSync(join(import.meta.dirname, '..', 'delegate', 'fixtures', 'fake-delegate.sh'), join(dir, 'fake'));
    writeFileSync(join(dir, 'versions.json'), JSON.stringify({ cniVersion: '1.1.0', supportedVersions: ['1.0.0', '1.1.0'] }));
    const conf = {
      cniVersion: '1.1.0',
      name: uniqueName('stnet'),
      type: 'userns-netns',
      dataDir: join(dir, 'data'),
      delegates: [{ type: 'fake', fake: { mode: 'error', code: 50, msg: 'backend not ready', details: 'waiting for the node agent' } }],
    };
    const r = runPlugin({ CNI_COMMAND: 'STATUS', CNI_PATH: `${dir}:${CNI_BIN}` }, conf, { timeoutMs: 20_000 });
    assert.is(r.json?.code, 50, r.stdout);
    assert.is(r.json.msg, 'plugin not available: delegate "fake": backend not ready');
    assert.is(r.json.details, 'delegate "fake" (STATUS): waiting for the node agent');
  }, 'stdet'));

test.run();
