// resolveNetnsTarget on its own: what is at CNI_NETNS decides the mode. Nothing there: create
// mode, only directly inside an allowed pin directory (pinned at its real path); a netns:
// adopt mode with its owner, unless it is the host's or the plugin's own, or the config says
// otherwise; anything else: code 4 naming CNI_NETNS and what is there, the path untouched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { canonicalNetnsPath, resolveNetnsTarget } from '../../src/attachment/netns-target';
import { CniError, ErrorCode } from '../../src/cni/errors';
import type { PluginConfig } from '../../src/config/netconf';
import { createPinnedNamespaces, hostUsernsInode } from '../../src/ns/index';
import { cleanupRoot, ONE, pinPaths, ROOT, safeUnpin, uniq } from '../helpers/ns-util';

const DIR = `${ROOT}/target`;
const PINS = `${DIR}/pins`;
const LINK = `${DIR}/link-to-pins`;
const USERNS_DIR = `${DIR}/userns`;

test.before(() => {
  fs.mkdirSync(PINS, { recursive: true });
  fs.symlinkSync(PINS, LINK);
});
test.after(() => cleanupRoot());

/** The part of the plugin config resolveNetnsTarget reads. */
function conf(over: Partial<Pick<PluginConfig, 'netnsPinDirs' | 'usernsPinDir' | 'existingNetns'>> = {}): PluginConfig {
  return { netnsPinDirs: [PINS], usernsPinDir: USERNS_DIR, existingNetns: 'adopt', ...over } as PluginConfig;
}

/** resolveNetnsTarget must refuse with code 4 and exactly `msg`. */
function refused(netns: string, c: PluginConfig, msg: string): void {
  let err: unknown;
  try {
    resolveNetnsTarget(netns, c);
  } catch (e) {
    err = e;
  }
  assert.instance(err, CniError, `${netns}: expected a CniError, got ${String(err)}`);
  assert.is((err as CniError).code, ErrorCode.InvalidEnvironment);
  assert.is((err as CniError).message, msg);
}

/** A netns owned by the host's user namespace, bind-mounted at a fresh path (as `ip netns add` makes one). */
function hostOwnedNetns(): { path: string; inode: number; drop: () => void } {
  const path = `${DIR}/host-owned-${uniq()}`;
  fs.writeFileSync(path, '');
  const drop = () => safeUnpin(path);
  try {
    execFileSync('unshare', [`--net=${path}`, 'true']);
    return { path, inode: fs.statSync(path).ino, drop };
  } catch (e) {
    drop();
    throw e;
  }
}

test('a path that is not normalised and absolute: code 4 naming it, whatever is there', () => {
  for (const p of ['run/netns/x', `${PINS}//x`, `${PINS}/x/`, `${PINS}/../pins/x`, `${PINS}/./x`, '']) {
    refused(p, conf(), `CNI_NETNS: ${JSON.stringify(p)} must be a normalised absolute path (no "..", "//" or trailing "/")`);
  }
});

test('nothing at the path, directly inside an allowed pin dir: create mode, the userns pin by the same name', () => {
  const name = uniq();
  assert.equal(resolveNetnsTarget(`${PINS}/${name}`, conf()), { mode: 'create', netnsPin: `${PINS}/${name}`, usernsPin: `${USERNS_DIR}/${name}` });
});

test('a pin dir reached through a symlink: create mode pins at the real directory, both as written and as configured', () => {
  const name = uniq();
  const want = { mode: 'create', netnsPin: `${PINS}/${name}`, usernsPin: `${USERNS_DIR}/${name}` };
  assert.equal(resolveNetnsTarget(`${LINK}/${name}`, conf()), want, 'CNI_NETNS through the symlink');
  assert.equal(resolveNetnsTarget(`${PINS}/${name}`, conf({ netnsPinDirs: ['/nonexistent-dir', LINK] })), want, 'the configured dir is the symlink');
  assert.is(canonicalNetnsPath(`${LINK}/${name}`), `${PINS}/${name}`);
  assert.is(canonicalNetnsPath(`${DIR}/not-yet/${name}`), `${DIR}/not-yet/${name}`, 'a parent that does not exist is kept as written');
});

test('nothing at the path, outside the pin dirs (a subdirectory, the parent, another dir): code 4 naming the path and the dirs', () => {
  const c = conf({ netnsPinDirs: [PINS, '/run/netns'] });
  for (const p of [`${PINS}/sub/${uniq()}`, `${DIR}/${uniq()}`, `/${uniq()}`]) {
    refused(p, c, `CNI_NETNS: ${JSON.stringify(p)} does not exist and is not directly inside an allowed pin directory (${PINS}, /run/netns)`);
  }
});

test('nothing at the path and no pin dirs: create mode is off, code 4 says so', () => {
  const p = `${PINS}/${uniq()}`;
  refused(p, conf({ netnsPinDirs: [] }), `CNI_NETNS: ${JSON.stringify(p)} does not exist and create mode is off (netnsPinDirs is empty)`);
});

test('something else at the path: code 4 naming what is there, the path untouched', async () => {
  const file = `${PINS}/file-${uniq()}`;
  fs.writeFileSync(file, 'x');
  const dir = `${PINS}/dir-${uniq()}`;
  fs.mkdirSync(dir);
  const link = `${PINS}/link-${uniq()}`;
  fs.symlinkSync('/proc/self/ns/net', link);
  const fifo = `${PINS}/fifo-${uniq()}`;
  execFileSync('mkfifo', [fifo]);
  const p = pinPaths();
  try {
    await createPinnedNamespaces({ mappings: ONE, ...p });
    const pre = (x: string) => `CNI_NETNS: ${JSON.stringify(x)} exists but is`;
    refused(file, conf(), `${pre(file)} a regular file that is not a network namespace mount; left untouched`);
    refused(dir, conf(), `${pre(dir)} a directory; left untouched`);
    refused(link, conf(), `${pre(link)} a symlink; left untouched`);
    refused(fifo, conf(), `${pre(fifo)} not a network namespace; left untouched`);
    refused(p.usernsPin, conf(), `${pre(p.usernsPin)} a user namespace, not a network namespace; left untouched`);
    assert.is(fs.readFileSync(file, 'utf8'), 'x');
    assert.ok(fs.statSync(dir).isDirectory());
    assert.is(fs.readlinkSync(link), '/proc/self/ns/net');
    assert.ok(fs.lstatSync(fifo).isFIFO());
  } finally {
    safeUnpin(p.netnsPin, p.usernsPin);
    for (const x of [file, dir, link, fifo]) fs.rmSync(x, { recursive: true, force: true });
  }
});

test('a path that cannot be looked at (through a regular file): code 4 naming it and why', () => {
  const file = `${PINS}/plain-${uniq()}`;
  fs.writeFileSync(file, '');
  try {
    const p = `${file}/child`;
    refused(p, conf(), `CNI_NETNS: ${JSON.stringify(p)}: ENOTDIR: not a directory, lstat '${p}'`);
  } finally {
    fs.rmSync(file, { force: true });
  }
});

test('a netns owned by a user namespace of its own: adopt mode with its inode and owner', async () => {
  const p = pinPaths();
  try {
    const ns = await createPinnedNamespaces({ mappings: ONE, ...p });
    const want = { mode: 'adopt', netnsPath: p.netnsPin, netnsInode: ns.netnsInode, ownerInode: ns.usernsInode, ownerIsHost: false };
    assert.equal(resolveNetnsTarget(p.netnsPin, conf()), want);
    assert.equal(resolveNetnsTarget(p.netnsPin, conf({ existingNetns: 'adopt-userns-owned' })), want);
    refused(p.netnsPin, conf({ existingNetns: 'refuse' }), `CNI_NETNS: ${JSON.stringify(p.netnsPin)} already is a network namespace and existingNetns is "refuse"`);
  } finally {
    safeUnpin(p.netnsPin, p.usernsPin);
  }
});

test('a netns owned by the host user namespace: adopt mode (owner the host), refused with adopt-userns-owned and refuse', () => {
  const h = hostOwnedNetns();
  try {
    assert.equal(resolveNetnsTarget(h.path, conf()), { mode: 'adopt', netnsPath: h.path, netnsInode: h.inode, ownerInode: hostUsernsInode(), ownerIsHost: true });
    refused(h.path, conf({ existingNetns: 'adopt-userns-owned' }), `CNI_NETNS: ${JSON.stringify(h.path)} is owned by the host user namespace and existingNetns is "adopt-userns-owned"`);
    refused(h.path, conf({ existingNetns: 'refuse' }), `CNI_NETNS: ${JSON.stringify(h.path)} already is a network namespace and existingNetns is "refuse"`);
  } finally {
    h.drop();
  }
});

/** Code and message of resolveNetnsTarget(netns) run by a plugin process in a netns of its own (unshare --net). */
function refusalInOwnNetns(netns: string): { code: number; msg: string } {
  const mod = new URL('../../src/attachment/netns-target.ts', import.meta.url).pathname;
  const script = `import { resolveNetnsTarget } from ${JSON.stringify(mod)};
try { resolveNetnsTarget(${JSON.stringify(netns)}, ${JSON.stringify(conf())}); console.log('{}'); } catch (e) { console.log(JSON.stringify({ code: e.code, msg: e.message })); }`;
  return JSON.parse(execFileSync('unshare', ['--net', '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' }));
}

test("the host's initial netns, by any spelling (a pin of it too): never adopted, code 4 naming it", () => {
  // The root tier runs in a pid namespace whose init shares our netns (private-host.sh).
  const init = fs.statSync('/proc/1/ns/net').ino;
  const why = `is the host's initial network namespace (/proc/1/ns/net) (netns inode ${init}); refusing to adopt it: delegates would change host interfaces`;
  const pin = `${DIR}/init-${uniq()}`;
  fs.writeFileSync(pin, '');
  try {
    execFileSync('mount', ['--bind', '/proc/1/ns/net', pin]);
    for (const p of ['/proc/1/ns/net', '/proc/self/ns/net', `/proc/${process.pid}/ns/net`, `/proc/self/task/${process.pid}/ns/net`, pin]) {
      refused(p, conf(), `CNI_NETNS: ${JSON.stringify(p)} ${why}`);
    }
  } finally {
    safeUnpin(pin);
  }
});

test("a plugin run in a netns other than the host's: its own netns is never adopted either, code 4 naming it", () => {
  const r = refusalInOwnNetns('/proc/self/ns/net');
  assert.is(r.code, ErrorCode.InvalidEnvironment);
  assert.match(r.msg, /^CNI_NETNS: "\/proc\/self\/ns\/net" is the network namespace the plugin itself runs in \(netns inode \d+\); refusing to adopt it: delegates would change host interfaces$/);
});

test.run();
