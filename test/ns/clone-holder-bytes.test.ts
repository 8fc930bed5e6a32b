// The clone engine's machine code is what its source says: src/ns/clone-holder.x86_64.S,
// assembled here with Debian's binutils (`as`, `objcopy`; build/install-deps.sh installs them),
// gives exactly the bytes of HOLDER_X86_64, and those are the bytes in both built x86-64 files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOLDER_X86_64 } from '../../src/ns/clone-holder';
import { ARTIFACTS, REPO } from '../helpers/plugin';

const SOURCE = join(REPO, 'src/ns/clone-holder.x86_64.S');

function assembled(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'uxn-as-'));
  try {
    execFileSync('as', ['--64', '-o', join(dir, 'holder.o'), SOURCE]);
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', join(dir, 'holder.o'), join(dir, 'holder.bin')]);
    return readFileSync(join(dir, 'holder.bin'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('as + objcopy of clone-holder.x86_64.S give exactly HOLDER_X86_64', () => {
  const bytes = assembled();
  assert.ok(bytes.length > 100 && bytes.length < 4096, `${bytes.length} bytes`);
  assert.is(HOLDER_X86_64, bytes.toString('hex'), 'src/ns/clone-holder.ts must hold the assembled bytes (paste the hex above)');
});

test('both built x86-64 files carry those bytes', () => {
  const hex = Buffer.from(assembled().toString('hex'));
  for (const file of [ARTIFACTS.script, ARTIFACTS.sea]) {
    assert.ok(readFileSync(file).includes(hex), `${file} holds the assembled routine`);
  }
});

test.run();
