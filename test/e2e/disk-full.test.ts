// A full data dir must not stop a rollback: bridge, host-local, umount and unlink need no space
// there. The data dir is a 256 KiB tmpfs of the test's own, filled by a delegate mid-ADD (after
// bridge), or after a successful ADD before the DEL. While it is full, the pins, the veth and
// the host-local reservation are released; what needs a write (the id block's release in the
// allocation table) waits in the record, and one DEL after space returns leaves nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_BIN } from '../helpers/plugin';
import { sh, withNet, type TestNet } from '../helpers/host';
import { leftovers } from './helpers/printer';

const FILLER = join(import.meta.dirname, 'fixtures', 'fill-disk-delegate.sh');

/** `net.dataDir` on a small tmpfs for the duration of `fn`; unmounted whatever happens. */
async function withSmallDataDir(net: TestNet, fn: (fill: string) => Promise<void> | void): Promise<void> {
  mkdirSync(net.dataDir, { recursive: true, mode: 0o700 });
  sh('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700,uid=0,gid=0', `uxn-${net.name}`, net.dataDir]);
  try {
    await fn(join(net.dataDir, 'fill'));
  } finally {
    sh('umount', ['-l', net.dataDir], { allowFail: true });
  }
}

function setup(net: TestNet, allocator: boolean) {
  const bin = join(net.dir, 'fakebin');
  mkdirSync(bin, { recursive: true });
  copyFileSync(FILLER, join(bin, 'filler'));
  const logFile = join(net.dir, 'plugin.log');
  return {
    env: { CNI_PATH: `${bin}:${CNI_BIN}` },
    logFile,
    conf(filling: boolean) {
      const delegates = [net.bridgeDelegate(), ...(filling ? [{ type: 'filler', fill: join(net.dataDir, 'fill') }] : [])];
      const conf = net.conf('1.0.0', { logFile, ...(allocator ? { allocator: { start: Math.floor(net.hostID / 65536) * 65536, count: 4 } } : {}) }, delegates);
      if (allocator) delete conf.idMappings;
      return conf;
    },
  };
}

const isFull = (fill: string) =>
  existsSync(fill) &&
  sh('df', ['--output=avail', '-B1', join(fill, '..')])
    .trim()
    .split('\n')
    .pop()!
    .trim() === '0';
const released = (net: TestNet) => {
  const l = leftovers(net);
  return { host: l.host, veths: l.veths, reservations: l.reservations };
};

test('disk full mid-ADD (allocator): pins, veth and reservation released while full; one DEL after space returns leaves nothing', async () => {
  await withNet(async (net) => {
    const s = setup(net, true);
    const emptyHost = released(net);
    await withSmallDataDir(net, (fill) => {
      const a = net.attachment();
      const add = net.run('ADD', a, s.conf(true), s.env);
      assert.is(add.status, 1, add.stdout);
      assert.is(add.json.code, 5, add.stdout);
      assert.match(add.json.msg, /ENOSPC/);
      assert.equal(released(net), emptyHost, 'pins, nsfs mounts, veth and reservation released on a full disk');
      assert.match(readFileSync(s.logFile, 'utf8'), /"journal-write-skipped"/, 'the rollback ran on a full disk');
      // The record goes first (an unlink needs no space), the id block last: its table write
      // may find the page the record freed, or fail and leave an orphan entry for the next DEL.
      const l = leftovers(net);
      assert.is(l.records.length, 0);
      assert.ok(l.blocks.length <= 1, JSON.stringify(l.blocks));

      rmSync(fill); // space returns
      const del = net.run('DEL', a, s.conf(true), { ...s.env, CNI_NETNS: '' });
      assert.is(del.status, 0, del.stdout);
      assert.equal(leftovers(net), { ...emptyHost, records: [], locks: [], blocks: [] });
    });
  });
});

test('disk full mid-ADD (static mapping): the rollback finishes completely while full', async () => {
  await withNet(async (net) => {
    const s = setup(net, false);
    const emptyHost = released(net);
    await withSmallDataDir(net, (fill) => {
      const add = net.run('ADD', net.attachment(), s.conf(true), s.env);
      assert.is(add.json?.code, 5, add.stdout);
      assert.ok(existsSync(fill), 'the fill was not given back'); // (the unlinked record freed its page)
      assert.match(readFileSync(s.logFile, 'utf8'), /"journal-write-skipped"/, 'the rollback ran on a full disk');
      const l = leftovers(net);
      assert.equal({ host: l.host, veths: l.veths, reservations: l.reservations }, emptyHost);
      assert.equal(l.records, [], 'the record is unlinked: that needs no space');
      assert.equal(l.locks, []);
    });
  });
});

test('DEL with the data dir full: delegates and pins released at once, the rest by one DEL once space returns', async () => {
  await withNet(async (net) => {
    const s = setup(net, true);
    const emptyHost = released(net);
    await withSmallDataDir(net, (fill) => {
      const a = net.attachment();
      const add = net.run('ADD', a, s.conf(false), s.env);
      assert.is(add.status, 0, add.stdout);
      sh('sh', ['-c', `cat /dev/zero > ${fill} 2>/dev/null; true`]);
      assert.ok(isFull(fill));
      const del = net.run('DEL', a, s.conf(false), s.env);
      // Done, or (when the table write found no space) code 5: the runtime DELs again.
      assert.ok(del.status === 0 || del.json?.code === 5, del.stdout);
      assert.equal(released(net), emptyHost, 'pins, veth and reservation released on a full disk');
      rmSync(fill);
      const again = net.run('DEL', a, s.conf(false), s.env);
      assert.is(again.status, 0, again.stdout);
      assert.equal(leftovers(net), { ...emptyHost, records: [], locks: [], blocks: [] });
    });
  });
});

test('DEL with a read-only data dir: delegates and pins released at once, the record by one DEL once writable', async () => {
  await withNet(async (net) => {
    const s = setup(net, false);
    const emptyHost = released(net);
    await withSmallDataDir(net, () => {
      const a = net.attachment();
      assert.is(net.run('ADD', a, s.conf(false), s.env).status, 0);
      sh('mount', ['-o', 'remount,ro', net.dataDir]);
      const del = net.run('DEL', a, s.conf(false), s.env);
      assert.is(del.json?.code, 5, del.stdout); // the record cannot be unlinked yet
      assert.equal(released(net), emptyHost, 'pins, veth and reservation released on a read-only data dir');
      sh('mount', ['-o', 'remount,rw', net.dataDir]);
      assert.is(net.run('DEL', a, s.conf(false), s.env).status, 0);
      assert.equal(leftovers(net), { ...emptyHost, records: [], locks: [], blocks: [] });
    });
  });
});

test.run();
