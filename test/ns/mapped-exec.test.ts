// Who may run a delegate inside the pod's user namespace: its root is the mapped host id, and
// its capabilities count only over files whose owner and group both map into the namespace.
// Real files, chowned to the ids in question, in a private temp dir.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostIdOfRoot, whyNotExecutable, type MappedRoot } from '../../src/ns/mapped-exec';

const H = 1_700_000_000; // container id 0 of the pod
const map = [{ containerID: 0, hostID: H, size: 65536 }];
const pod: MappedRoot = { uid: H, gid: H, uidMap: map, gidMap: map };

function withDir(fn: (dir: string, file: (name: string, mode: number, uid?: number, gid?: number) => string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'uxn-mapped-exec-'));
  try {
    chmodSync(dir, 0o755);
    fn(dir, (name, mode, uid = 0, gid = 0) => {
      const p = join(dir, name);
      writeFileSync(p, '#!/bin/sh\n');
      chownSync(p, uid, gid);
      chmodSync(p, mode);
      return p;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the host id of container id 0, or none', () => {
  assert.is(hostIdOfRoot(map), H);
  assert.is(hostIdOfRoot([{ containerID: 1, hostID: H, size: 10 }]), undefined);
});

test('a root-owned file is judged by its "other" bits; a file the pod owns by its owner bits or capabilities', () => {
  withDir((_, file) => {
    assert.is(whyNotExecutable(file('a', 0o755), pod), undefined);
    assert.match(whyNotExecutable(file('b', 0o750), pod) ?? '', 'is not executable by it');
    assert.match(whyNotExecutable(file('c', 0o700), pod) ?? '', 'mode 0700');
    assert.is(whyNotExecutable(file('d', 0o700, H, H), pod), undefined, 'owner bits');
    assert.is(whyNotExecutable(file('e', 0o010, H + 5, H + 5), pod), undefined, 'CAP_DAC_OVERRIDE over a pod-owned file with an x bit');
    assert.match(whyNotExecutable(file('f', 0o600, H + 5, H + 5), pod) ?? '', 'not executable', 'no x bit at all');
    assert.match(whyNotExecutable(file('g', 0o010, H + 5, 0), pod) ?? '', 'not executable', 'group not mapped: no capability');
    assert.match(whyNotExecutable(file('h', 0o705, 0, H), pod) ?? '', 'not executable', 'the group class applies, not "other" (as in the kernel)');
    assert.is(whyNotExecutable(file('i', 0o750, 0, H), pod), undefined, 'group bits for the mapped gid');
  });
});

test('every directory on the way, as written and behind symlinks, must be searchable', () => {
  withDir((dir, file) => {
    mkdirSync(join(dir, 'closed'), { mode: 0o700 });
    mkdirSync(join(dir, 'open'), { mode: 0o755 });
    const hidden = join(dir, 'closed', 'x');
    writeFileSync(hidden, '');
    chmodSync(hidden, 0o755);
    assert.match(whyNotExecutable(hidden, pod) ?? '', `directory ${join(dir, 'closed')} is not searchable`);
    symlinkSync(hidden, join(dir, 'open', 'link'));
    assert.match(whyNotExecutable(join(dir, 'open', 'link'), pod) ?? '', 'closed', 'through a symlink');
    symlinkSync(file('y', 0o755), join(dir, 'closed', 'link'));
    assert.match(whyNotExecutable(join(dir, 'closed', 'link'), pod) ?? '', 'closed', 'a symlink inside a closed directory');
    assert.match(whyNotExecutable(join(dir, 'missing'), pod) ?? '', 'cannot look at it');
  });
});

test.run();
