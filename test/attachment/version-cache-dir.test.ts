// Where delegates' VERSION answers are kept: <dataDir>/version-cache, a root-only directory of its
// own (not the data dir, whose entries are the attachments' records and locks). A real process (a
// small script answering VERSION), run in-process through prepareDelegate.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { delegateCallFor, prepareDelegate } from '../../src/attachment/delegate-runner';
import { parseInvocation } from '../../src/config/invocation';
import { createLogger } from '../../src/log/logger';
import { withTempDir } from '../helpers/temp';

const ANSWERS_VERSION = `#!/bin/sh
echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}'
`;

test('a VERSION answer is cached in <dataDir>/version-cache, 0700, and nowhere else in the data dir', () =>
  withTempDir(async (dir) => {
    writeFileSync(join(dir, 'versioned'), ANSWERS_VERSION);
    chmodSync(join(dir, 'versioned'), 0o755);
    const dataDir = join(dir, 'data');
    const conf = { cniVersion: '1.0.0', name: 'vcnet', type: 'userns-netns', dataDir, delegates: [{ type: 'versioned' }] };
    const inv = parseInvocation('DEL', { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_PATH: dir }, Buffer.from(JSON.stringify(conf)));
    const prepared = await prepareDelegate(delegateCallFor(inv, createLogger({ command: 'DEL' }), { containerId: 'c1', ifname: 'eth0' }), { type: 'versioned' });
    assert.is(prepared.cniVersion, '1.0.0');
    assert.equal(readdirSync(dataDir), ['version-cache']);
    assert.is(statSync(join(dataDir, 'version-cache')).mode & 0o777, 0o700);
    assert.is(readdirSync(join(dataDir, 'version-cache')).length, 1, 'one entry, for the one delegate');
  }, 'vcache'));

test.run();
