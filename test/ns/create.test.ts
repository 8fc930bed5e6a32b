import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { createPinnedNamespaces, inspectNamespace, hostUsernsInode, hostNetnsInode, isLiveNetnsPin, type IdMappings } from '../../src/ns/index';
import { cloneSleeper, CLONE_NEWUSER, CLONE_NEWNET, NS_GET_USERNS, NS_GET_PARENT, nsIoctl, pidfdKill, pidfdReap } from '../../src/ns/syscalls';
import { CniError, ErrorCode } from '../../src/cni/errors';
import { pinPaths, safeUnpin, cleanupRoot, ONE, loSysfsOwner, nsfsMountsAt, childPids, uniq, waitDead } from '../helpers/ns-util';

test.after(() => cleanupRoot());

const ENGINES = ['clone', 'exec'] as const;

function ino(fd: number): number {
  return fs.fstatSync(fd).ino;
}

for (const engine of ENGINES)
  test(`[${engine}] ` + 'order: lo sysfs owner is the mapping host root (100000), not 0', async () => {
    const p = pinPaths();
    try {
      await createPinnedNamespaces({ mappings: ONE, ...p, engine });
      assert.is(loSysfsOwner(p.netnsPin), 100000);
    } finally {
      safeUnpin(p.netnsPin, p.usernsPin);
    }
  });

test('control: a one-step clone(CLONE_NEWUSER|CLONE_NEWNET) netns fails that check (owner 0)', () => {
  const h = cloneSleeper(CLONE_NEWUSER | CLONE_NEWNET, 10);
  try {
    fs.writeFileSync(`/proc/${h.pid}/uid_map`, '0 100000 65536\n');
    fs.writeFileSync(`/proc/${h.pid}/gid_map`, '0 100000 65536\n');
    assert.is(loSysfsOwner(`/proc/${h.pid}/ns/net`), 0);
  } finally {
    pidfdKill(h.pidfd);
    pidfdReap(h.pidfd);
    fs.closeSync(h.pidfd);
  }
});

test('control: `unshare -U -n sleep` (one step), maps written afterwards, also gives owner 0', async () => {
  const child = spawn('unshare', ['-U', '-n', 'sleep', '10'], { stdio: 'ignore' });
  try {
    const pid = child.pid!;
    const deadline = Date.now() + 3000;
    while (fs.readlinkSync(`/proc/${pid}/ns/net`) === fs.readlinkSync('/proc/self/ns/net') && Date.now() < deadline) {
      /* wait */
    }
    fs.writeFileSync(`/proc/${pid}/uid_map`, '0 100000 65536\n');
    fs.writeFileSync(`/proc/${pid}/gid_map`, '0 100000 65536\n');
    assert.is(loSysfsOwner(`/proc/${pid}/ns/net`), 0);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
});

test('concurrent calls are serialised and all succeed', async () => {
  const ps = [pinPaths(), pinPaths(), pinPaths(), pinPaths()];
  try {
    const rs = await Promise.all(ps.map((p) => createPinnedNamespaces({ mappings: ONE, ...p })));
    assert.equal(
      rs.map((r) => r.engine),
      Array(4).fill(process.arch === 'x64' ? 'clone' : 'exec'),
      'auto: clone on x86-64',
    );
    assert.is(new Set(rs.map((r) => r.netnsInode)).size, 4);
    for (const [k, p] of ps.entries()) assert.ok(isLiveNetnsPin(p.netnsPin, rs[k]!.netnsInode));
  } finally {
    for (const p of ps) safeUnpin(p.netnsPin, p.usernsPin);
  }
});

for (const engine of ENGINES)
  test(`[${engine}] ` + 'ownership: NS_GET_USERNS(netns pin) is our userns, its parent is the host userns', async () => {
    const p = pinPaths();
    try {
      const r = await createPinnedNamespaces({ mappings: ONE, ...p, engine });
      assert.is(r.engine, engine, 'the engine that ran is reported');
      assert.is.not(r.netnsInode, hostNetnsInode());
      const netFd = fs.openSync(p.netnsPin, 'r');
      const userFd = fs.openSync(p.usernsPin, 'r');
      try {
        const owner = nsIoctl(netFd, NS_GET_USERNS);
        assert.is(ino(owner), r.usernsInode);
        assert.is(ino(userFd), r.usernsInode);
        assert.is(ino(netFd), r.netnsInode);
        const parent = nsIoctl(userFd, NS_GET_PARENT);
        assert.is(ino(parent), hostUsernsInode());
        fs.closeSync(owner);
        fs.closeSync(parent);
      } finally {
        fs.closeSync(netFd);
        fs.closeSync(userFd);
      }
      const i = inspectNamespace(p.netnsPin);
      assert.equal(i, { path: p.netnsPin, exists: true, isNsfsMount: true, nsType: 'net', inode: r.netnsInode, owner: { inode: r.usernsInode, isHostUserns: false } });
      assert.ok(isLiveNetnsPin(p.netnsPin, r.netnsInode));
    } finally {
      safeUnpin(p.netnsPin, p.usernsPin);
    }
  });

for (const engine of ENGINES)
  test(`[${engine}] ` + 'maps: /proc/<holder>/uid_map and gid_map equal the request exactly (multi-range), inspector agrees', async () => {
    const p = pinPaths();
    const m: IdMappings = {
      uidMappings: [
        { containerID: 0, hostID: 200000, size: 1 },
        { containerID: 1, hostID: 300001, size: 65535 },
      ],
      gidMappings: [
        { containerID: 0, hostID: 400000, size: 1000 },
        { containerID: 1000, hostID: 500000, size: 5 },
      ],
    };
    let seen: { uid: string; gid: string; setgroups: string } | undefined;
    try {
      await createPinnedNamespaces({
        mappings: m,
        ...p,
        engine,
        testHooks: {
          afterHolderNsOpened: (pid) => {
            seen = {
              uid: fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8'),
              gid: fs.readFileSync(`/proc/${pid}/gid_map`, 'utf8'),
              setgroups: fs.readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim(),
            };
          },
        },
      });
      const norm = (t: string) =>
        t
          .trim()
          .split('\n')
          .map((l) => l.trim().split(/\s+/).join(' '));
      assert.equal(norm(seen!.uid), ['0 200000 1', '1 300001 65535']);
      assert.equal(norm(seen!.gid), ['0 400000 1000', '1000 500000 5']);
      assert.is(seen!.setgroups, 'allow');
      const i = await inspectNamespace(p.netnsPin, { withMappings: true });
      assert.equal(i.owner?.mappings, m);
      assert.is(loSysfsOwner(p.netnsPin), 200000);
    } finally {
      safeUnpin(p.netnsPin, p.usernsPin);
    }
  });

test('ip netns exec <name> ip link works on a pin in /run/netns; loopbackUp brings lo up', async () => {
  const name = uniq();
  const netnsPin = `/run/netns/${name}`;
  const usernsPin = `/run/userns/${name}`;
  try {
    await createPinnedNamespaces({ mappings: ONE, netnsPin, usernsPin, loopbackUp: true });
    assert.ok(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(name));
    const out = execFileSync('ip', ['netns', 'exec', name, 'ip', 'link', 'show', 'lo'], { encoding: 'utf8' });
    assert.match(out, /1: lo: <LOOPBACK,UP/);
  } finally {
    safeUnpin(netnsPin, usernsPin);
  }
  assert.not.ok(fs.existsSync(netnsPin));
});

for (const engine of ENGINES)
  test(`[${engine}] ` + 'killing the netns helper at the worst moment: error, no pin, no mount, no process', async () => {
    const p = pinPaths();
    const before = childPids();
    let killed = 0;
    try {
      await createPinnedNamespaces({
        mappings: ONE,
        ...p,
        engine,
        testHooks: {
          afterHolderNsOpened: (pid) => {
            killed = pid;
            process.kill(pid, 'SIGKILL');
            waitDead(pid);
          },
        },
      });
      assert.unreachable('created despite a dead helper');
    } catch (e) {
      assert.instance(e, CniError);
      assert.is((e as CniError).code, ErrorCode.NamespaceFailure);
      assert.match((e as Error).message, /died/);
    } finally {
      safeUnpin(p.netnsPin, p.usernsPin);
    }
    assert.ok(killed > 0);
    assert.not.ok(fs.existsSync(p.netnsPin));
    assert.not.ok(fs.existsSync(p.usernsPin));
    assert.is(nsfsMountsAt(p.netnsPin) + nsfsMountsAt(p.usernsPin), 0);
    assert.equal(childPids(), before);
    assert.not.ok(fs.existsSync(`/proc/${killed}`));
  });

for (const engine of ENGINES)
  test(`[${engine}] ` + 'killing the userns holder before its maps are written: error and full rollback', async () => {
    const p = pinPaths();
    const before = childPids();
    try {
      await createPinnedNamespaces({
        mappings: ONE,
        ...p,
        engine,
        testHooks: {
          afterUsernsHolderOpened: (pid) => {
            process.kill(pid, 'SIGKILL');
            waitDead(pid);
          },
        },
      });
      assert.unreachable('created despite a dead holder');
    } catch (e) {
      assert.is((e as CniError).code, ErrorCode.NamespaceFailure);
    } finally {
      safeUnpin(p.netnsPin, p.usernsPin);
    }
    assert.not.ok(fs.existsSync(p.netnsPin));
    assert.not.ok(fs.existsSync(p.usernsPin));
    assert.equal(childPids(), before);
  });

test('existing pin path: PinExists, path untouched, nothing created', async () => {
  const p = pinPaths();
  fs.mkdirSync(path.dirname(p.netnsPin), { recursive: true });
  fs.writeFileSync(p.netnsPin, 'precious');
  const mtime = fs.statSync(p.netnsPin).mtimeMs;
  try {
    await createPinnedNamespaces({ mappings: ONE, ...p });
    assert.unreachable('created over an existing file');
  } catch (e) {
    assert.is((e as CniError).code, ErrorCode.PinExists);
    assert.ok((e as Error).message.includes(p.netnsPin));
  } finally {
    assert.is(fs.readFileSync(p.netnsPin, 'utf8'), 'precious');
    assert.is(fs.statSync(p.netnsPin).mtimeMs, mtime);
    assert.not.ok(fs.existsSync(p.usernsPin));
    fs.unlinkSync(p.netnsPin);
  }
});

test('existing userns pin: PinExists, the netns pin reserved before it is removed again', async () => {
  const p = pinPaths();
  fs.mkdirSync(path.dirname(p.usernsPin), { recursive: true });
  fs.writeFileSync(p.usernsPin, 'x');
  try {
    await createPinnedNamespaces({ mappings: ONE, ...p });
    assert.unreachable('created over an existing userns pin');
  } catch (e) {
    assert.is((e as CniError).code, ErrorCode.PinExists);
  } finally {
    assert.is(fs.readFileSync(p.usernsPin, 'utf8'), 'x');
    assert.not.ok(fs.existsSync(p.netnsPin));
    fs.unlinkSync(p.usernsPin);
  }
});

test('symlink at the pin path: refused, symlink and its target untouched', async () => {
  const p = pinPaths();
  const target = `${p.netnsPin}-target`;
  fs.mkdirSync(path.dirname(p.netnsPin), { recursive: true });
  fs.symlinkSync(target, p.netnsPin);
  try {
    await createPinnedNamespaces({ mappings: ONE, ...p });
    assert.unreachable('followed a symlink');
  } catch (e) {
    assert.is((e as CniError).code, ErrorCode.PinExists);
  } finally {
    assert.ok(fs.lstatSync(p.netnsPin).isSymbolicLink());
    assert.not.ok(fs.existsSync(target));
    assert.not.ok(fs.existsSync(p.usernsPin));
    fs.unlinkSync(p.netnsPin);
  }
});

test('bad mappings: MappingInvalid naming the range, nothing created', async () => {
  const p = pinPaths();
  const before = childPids();
  try {
    await createPinnedNamespaces({
      mappings: {
        uidMappings: [
          { containerID: 0, hostID: 100000, size: 65536 },
          { containerID: 0, hostID: 300000, size: 10 },
        ],
        gidMappings: ONE.gidMappings,
      },
      ...p,
    });
    assert.unreachable('accepted overlapping mappings');
  } catch (e) {
    assert.is((e as CniError).code, ErrorCode.MappingInvalid);
    assert.ok((e as Error).message.includes('uidMappings[1] (containerID 0, hostID 300000, size 10): overlaps uidMappings[0]'));
  }
  assert.not.ok(fs.existsSync(p.netnsPin));
  assert.not.ok(fs.existsSync(p.usernsPin));
  assert.equal(childPids(), before);
});

test('userns pin in the netns pin directory is refused', async () => {
  const p = pinPaths();
  try {
    await createPinnedNamespaces({ mappings: ONE, netnsPin: p.netnsPin, usernsPin: `${p.netnsPin}-user` });
    assert.unreachable();
  } catch (e) {
    assert.is((e as CniError).code, ErrorCode.NamespaceFailure);
    assert.match((e as Error).message, /own directory/);
  }
  assert.not.ok(fs.existsSync(p.netnsPin));
});

test('relative pin path is refused', async () => {
  try {
    await createPinnedNamespaces({ mappings: ONE, netnsPin: 'run/netns/x', usernsPin: '/run/userns/x' });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /absolute/);
  }
});

test.run();
