// salvageRecord(): what a damaged record's text still says about the pins it held - whole
// namespace references kept, cut or unreadable ones dropped, relative or non-string paths and
// "none" pins never taken as ours, the boot id only when it has the boot id's shape.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { salvageRecord } from '../../src/attachment/salvage';
import { removeDir, tempDir, withTempDir } from '../helpers/temp';

const BOOT = '3e1c7f0a-59c2-4b55-9d0c-1f2e3d4c5b6a';
const NET = { path: '/run/netns/p1', inode: 4026532001, pin: 'pinned', token: 'ab12' };
const USER = { path: '/run/userns/p1', inode: 4026532002, pin: 'pinned', token: 'ab12' };

/** A record file's text, as the store writes it (compact JSON), with the given parts. */
function recordText(parts: Record<string, unknown>): string {
  return JSON.stringify({ schemaVersion: 1, network: 'n1', containerId: 'c1', ifname: 'eth0', phase: 'ready', bootId: BOOT, ...parts, delegates: [] });
}

/** Salvages `text` written as a record file (root's, mode 0600, as the store writes it). */
function salvage(text: string): ReturnType<typeof salvageRecord> {
  const dir = tempDir('salvage');
  try {
    const file = join(dir, 'n1+c1+eth0.json');
    writeFileSync(file, text, { mode: 0o600 });
    return salvageRecord(file);
  } finally {
    removeDir(dir);
  }
}

test('a whole record: both pins with their types, the netns path and the boot id', () => {
  assert.equal(salvage(recordText({ netns: NET, userns: USER })), {
    pins: [
      [NET, 'net'],
      [USER, 'user'],
    ],
    bootId: BOOT,
    netnsPath: NET.path,
  });
});

test('a record cut inside its userns reference keeps the netns one', () => {
  const text = recordText({ netns: NET, userns: USER });
  const cut = text.slice(0, text.indexOf('"userns":') + '"userns":{"path":"/run/us'.length);
  assert.equal(salvage(cut), { pins: [[NET, 'net']], bootId: BOOT, netnsPath: NET.path });
});

test('an adopted netns (pin "none") is no pin of ours, but its path is the lock to take; its owner pin is', () => {
  const net = { path: '/proc/1234/ns/net', inode: 4026532001, pin: 'none' };
  const owner = { ...USER, adopted: true };
  assert.equal(salvage(recordText({ netns: net, userns: owner })), { pins: [[owner, 'user']], bootId: BOOT, netnsPath: net.path });
});

test('only a netns reference names the netns path; a userns pin alone leaves it unset', () => {
  const text = recordText({ userns: USER });
  assert.equal(salvage(text), { pins: [[USER, 'user']], bootId: BOOT });
});

test('paths that are not absolute strings are not taken: not as a pin, not as the netns path', () => {
  const relative = salvage(recordText({ netns: { ...NET, path: 'run/netns/p1/' }, userns: { ...USER, path: 'run/userns/p1' } }));
  assert.equal(relative, { pins: [], bootId: BOOT });
  const notString = salvage(recordText({ netns: { ...NET, path: 17 }, userns: { ...USER, path: ['/run/userns/p1'] } }));
  assert.equal(notString, { pins: [], bootId: BOOT });
  const noPath = salvage(recordText({ netns: { inode: 1, pin: 'pinned' }, userns: { inode: 2, pin: 'intent' } }));
  assert.equal(noPath, { pins: [], bootId: BOOT });
});

test('an unparsable reference is skipped, the next one still read; intent pins count', () => {
  const text = recordText({ netns: NET, userns: { ...USER, pin: 'intent' } }).replace('"netns":{"path"', '"netns":{path');
  assert.equal(salvage(text), { pins: [[{ ...USER, pin: 'intent' }, 'user']], bootId: BOOT });
});

test('a boot id is taken only in its own shape (hex and dashes, 1-64 characters)', () => {
  assert.equal(salvage(recordText({ netns: NET, bootId: 'not-a-boot-id' })).bootId, undefined);
  assert.equal(salvage(recordText({ netns: NET, bootId: '' })).bootId, undefined);
  assert.equal(salvage(recordText({ netns: NET, bootId: 'a' })).bootId, 'a');
  assert.equal(salvage(recordText({ netns: NET, bootId: 'f'.repeat(65) })).bootId, undefined);
});

test('an empty, garbage, missing or untrusted file salvages nothing', async () => {
  assert.equal(salvage(''), { pins: [] });
  assert.equal(salvage('\u0000\u0001{{{'), { pins: [] });
  await withTempDir((dir) => {
    assert.equal(salvageRecord(join(dir, 'never-written.json')), { pins: [] });
    const target = join(dir, 'target.json');
    writeFileSync(target, recordText({ netns: NET, userns: USER }), { mode: 0o600 });
    const link = join(dir, 'link.json');
    symlinkSync(target, link);
    assert.equal(salvageRecord(link), { pins: [] }, 'a symlink is not followed: its target may be anyone');
    const loose = join(dir, 'loose.json');
    writeFileSync(loose, recordText({ netns: NET, userns: USER }), { mode: 0o600 });
    chmodSync(loose, 0o666);
    assert.equal(salvageRecord(loose), { pins: [] }, 'a world-writable file could say anything');
  }, 'salvage');
});

test.run();
