// currentBootId (boot-id.ts) when the kernel's boot id cannot be had: records carry it to tell
// this boot's namespaces from an earlier one's, so a missing or garbled one must fail the call
// (code 5, naming the file and what was wrong), never end up in a record. The cases run in a
// child process in a mount namespace of its own, with a tmpfs over /proc/sys/kernel/random.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../src/cni/errors';

const printer = fileURLToPath(new URL('./fixtures/print-boot-id.mts', import.meta.url));
const BOOT_ID = '/proc/sys/kernel/random/boot_id';
const VALID = '0123abcd-4567-89ef-0123-456789abcdef';

test('no boot id file or one with anything but a kernel boot id: code 5 naming the file and the problem; a good one is taken', () => {
  const bad = ['', 'not-a-boot-id', `x${VALID}`, `${VALID}x`, VALID.toUpperCase(), `${VALID} ${VALID}`];
  const contents = [null, ...bad.map((b) => `${b}\n`), `${VALID}\n`];
  const script = `set -e; mount -t tmpfs uxt-boot-id /proc/sys/kernel/random; exec "$0" --import tsx "$1" "$2"`;
  const got = JSON.parse(execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, process.execPath, printer, JSON.stringify(contents)], { encoding: 'utf8' }));
  assert.equal(got, [
    { code: ErrorCode.IoFailure, message: `cannot read ${BOOT_ID}: ENOENT` },
    ...bad.map((b) => ({ code: ErrorCode.IoFailure, message: `unexpected content in ${BOOT_ID}: ${JSON.stringify(b.slice(0, 40))}` })),
    { id: VALID },
  ]);
});

test.run();
