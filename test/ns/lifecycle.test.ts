import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createPinnedNamespaces, unpin } from '../../src/ns/index';
import { pinPaths, safeUnpin, cleanupRoot, ONE, ROOT, nsfsMountCount, openFdCount, childPids, nsfsMountsAt } from '../helpers/ns-util';

test.after(() => cleanupRoot());

test('200 create/unpin cycles leave nsfs mounts, open fds and child processes unchanged', async () => {
  const warm = pinPaths();
  await createPinnedNamespaces({ mappings: ONE, ...warm, loopbackUp: true });
  unpin(warm.netnsPin);
  unpin(warm.usernsPin);
  const before = { mounts: nsfsMountCount(ROOT), allNsfs: nsfsMountCount(), fds: openFdCount(), kids: childPids() };
  for (let i = 0; i < 200; i++) {
    const p = pinPaths();
    try {
      await createPinnedNamespaces({ mappings: ONE, ...p, loopbackUp: i % 2 === 0 });
    } finally {
      safeUnpin(p.netnsPin, p.usernsPin);
    }
  }
  const after = { mounts: nsfsMountCount(ROOT), allNsfs: nsfsMountCount(), fds: openFdCount(), kids: childPids() };
  // All nsfs mounts on the machine should match too, but other suites may pin concurrently:
  // the strict check is on our own pin tree; the global count is reported on mismatch only.
  assert.equal({ ...after, allNsfs: 0 }, { ...before, allNsfs: 0 }, `nsfs mounts machine-wide: ${before.allNsfs} -> ${after.allNsfs}`);
  assert.is(after.mounts, 0);
});

test('plugin SIGKILLed mid-creation: helpers expire by themselves, nothing is mounted', () => {
  const p = pinPaths();
  fs.mkdirSync(p.netnsPin.replace(/\/[^/]+$/, ''), { recursive: true });
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/ns-sigkill-child.ts', p.netnsPin, p.usernsPin], { encoding: 'utf8', timeout: 20000 });
    assert.is(r.signal, 'SIGKILL', `child stderr: ${r.stderr}`);
    const pids = [...r.stdout.matchAll(/(userns|netns) (\d+)/g)].map((m) => Number(m[2]));
    assert.is(pids.length, 2, r.stdout);
    assert.is(nsfsMountsAt(p.netnsPin) + nsfsMountsAt(p.usernsPin), 0);
    // holderSeconds = 1: both helpers must be gone (or at worst unreaped by init) within ~2 s.
    const deadline = Date.now() + 4000;
    const sab = new Int32Array(new SharedArrayBuffer(4));
    const alive = () =>
      pids.filter((pid) => {
        try {
          const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
          return !/^\S+ \(.*\) [ZX]/.test(st);
        } catch {
          return false;
        }
      });
    while (alive().length && Date.now() < deadline) Atomics.wait(sab, 0, 0, 50);
    assert.equal(alive(), [], 'helpers outlived the killed plugin');
  } finally {
    // The reserved (empty, unmounted) pin files stay behind; unpin removes them.
    safeUnpin(p.netnsPin, p.usernsPin);
  }
  assert.not.ok(fs.existsSync(p.netnsPin));
});

test.run();
