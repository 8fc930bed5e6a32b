// The preflight plan (addPlan/planProblems, preflightAdd) in process: which pin directories,
// mapping and delegate checks each target gets, what a pin directory that cannot be used is
// told as (its key, its path, why), and what ADD's look at CNI_NETNS before the lock lets
// through (its own leftover, another ADD's pin in the making) or refuses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { addPlan, planProblems, preflightAdd, type PlanTarget } from '../../src/attachment/preflight';
import { contextFor, openStore } from '../../src/attachment/context';
import { resolveMapping } from '../../src/attachment/mapping-for-add';
import { releaseAllocation } from '../../src/attachment/release-ids';
import { CniError, ErrorCode } from '../../src/cni/errors';
import { parseInvocation } from '../../src/config/invocation';
import { createPinnedNamespaces } from '../../src/ns/index';
import { cleanupRoot, ONE, pinPaths, ROOT, safeUnpin } from '../helpers/ns-util';
import { captureLog, fixture, recordFor, type Fixture } from './helpers/attachment-fixture';

const D = `${ROOT}/preflight`;
const OK_DIR = `${D}/ok`;
const NOT_YET = `${D}/ok/not/yet`;
const FILE = `${D}/file`;
const UNDER_FILE = `${D}/file/sub`;
const LINK_TO_DIR = `${D}/link-to-dir`;
const DANGLING = `${D}/dangling`;
const LOOP = `${D}/loop`;
const RO = `${D}/ro`;

let f: Fixture;
const made: string[] = [];

test.before(() => {
  f = fixture(['dela']);
  mkdirSync(OK_DIR, { recursive: true });
  writeFileSync(FILE, '');
  symlinkSync(OK_DIR, LINK_TO_DIR);
  symlinkSync(`${D}/nothing-here`, DANGLING);
  symlinkSync(LOOP, LOOP);
  mkdirSync(RO);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'uxt-ro', RO]);
});

test.after(() => {
  execFileSync('umount', ['-l', RO]);
  safeUnpin(...made);
  f.cleanup();
  cleanupRoot();
});

const MAPPING = { uidMappings: [{ containerID: 0, hostID: 1_600_000_000, size: 65536 }] };
/** Well-formed, but its ranges overlap: only the mapping check finds that. */
const OVERLAPPING = { uidMappings: [MAPPING.uidMappings[0], { containerID: 100, hostID: 1_600_200_000, size: 10 }] };

function invocation(conf: Record<string, unknown>, netns = `${OK_DIR}/pod`) {
  const full = { cniVersion: '1.0.0', name: f.network, type: 'userns-netns', dataDir: f.dataDir, delegates: [{ type: 'dela' }], idMappings: MAPPING, ...conf };
  return parseInvocation('ADD', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: netns, CNI_PATH: f.bin }, Buffer.from(JSON.stringify(full)));
}

/** The plan's problems for `target`: "<label>: <message>" (code 4 unless said). */
function problems(conf: Record<string, unknown>, target: PlanTarget): string[] {
  const inv = invocation(conf);
  return planProblems(addPlan({ conf: inv.conf, env: inv.env, cniPath: f.bin, target })).map(
    ({ step, error }) => `${step.label ? `${step.label}: ` : ''}${error.code === ErrorCode.InvalidEnvironment ? '' : `(${error.code}) `}${error.message}`,
  );
}

const unusable = (key: string, dir: string, why: string) => `${key}: pin directory ${JSON.stringify(dir)} is not usable: ${why}`;

test('pin directories: a writable one or one that mkdir -p can make passes; each other kind says why, under its key', () => {
  // mkdir -p follows the parents' symlinks: a directory to be made under a symlinked one is fine.
  const dirs = [OK_DIR, NOT_YET, LINK_TO_DIR, UNDER_FILE, FILE, DANGLING, LOOP, RO, `${RO}/new`, `${LINK_TO_DIR}/not/yet`];
  assert.equal(problems({ netnsPinDirs: dirs, usernsPinDir: OK_DIR }, 'any'), [
    unusable('netnsPinDirs[3]', UNDER_FILE, `${FILE} is not a directory`),
    unusable('netnsPinDirs[4]', FILE, `${FILE} is not a directory`),
    unusable('netnsPinDirs[5]', DANGLING, `${DANGLING} is a symlink to nothing`),
    unusable('netnsPinDirs[6]', LOOP, 'ELOOP'),
    unusable('netnsPinDirs[7]', RO, 'EROFS'),
    unusable('netnsPinDirs[8]', `${RO}/new`, 'EROFS'),
  ]);
});

test('the user namespace pin directory is never followed: a symlink to a directory is refused like a dangling one', () => {
  assert.equal(problems({ netnsPinDirs: [OK_DIR], usernsPinDir: LINK_TO_DIR }, 'any'), [unusable('usernsPinDir', LINK_TO_DIR, `${LINK_TO_DIR} is a symlink (not followed)`)]);
  assert.equal(problems({ netnsPinDirs: [OK_DIR], usernsPinDir: DANGLING }, 'any'), [unusable('usernsPinDir', DANGLING, `${DANGLING} is a symlink (not followed)`)]);
  assert.equal(problems({ netnsPinDirs: [OK_DIR], usernsPinDir: `${FILE}/userns` }, 'any'), [unusable('usernsPinDir', `${FILE}/userns`, `${FILE} is not a directory`)]);
  assert.equal(problems({ netnsPinDirs: [OK_DIR], usernsPinDir: `${LINK_TO_DIR}/userns` }, 'any'), [], 'only its own last component is not followed');
});

test('STATUS with create mode off: no netns pin directory, no mapping; the userns one only while a netns may be adopted', () => {
  const bad = { usernsPinDir: `${FILE}/userns`, idMappings: OVERLAPPING };
  assert.equal(problems({ ...bad, netnsPinDirs: [], existingNetns: 'refuse' }, 'any'), []);
  assert.equal(problems({ ...bad, netnsPinDirs: [], existingNetns: 'adopt' }, 'any'), [unusable('usernsPinDir', `${FILE}/userns`, `${FILE} is not a directory`)]);
  assert.equal(problems({ ...bad, netnsPinDirs: [], existingNetns: 'adopt-userns-owned' }, 'any'), [unusable('usernsPinDir', `${FILE}/userns`, `${FILE} is not a directory`)]);
  const withCreate = problems({ ...bad, netnsPinDirs: [OK_DIR], existingNetns: 'refuse' }, 'any');
  assert.is(withCreate.length, 2, withCreate.join('\n'));
  assert.is(withCreate[0], unusable('usernsPinDir', `${FILE}/userns`, `${FILE} is not a directory`));
  assert.match(withCreate[1]!, 'idMappings', 'create mode on: the mapping is checked');
});

test("ADD's target decides: create checks CNI_NETNS's directory, the userns one and the mapping; adopt only the owner's pin dir", () => {
  const bad = { netnsPinDirs: [FILE, OK_DIR], usernsPinDir: `${FILE}/userns`, idMappings: OVERLAPPING };
  const create = problems(bad, { mode: 'create', netnsPin: `${UNDER_FILE}/pod`, usernsPin: `${FILE}/userns/pod` });
  assert.equal(create.slice(0, 2), [unusable('CNI_NETNS', `${UNDER_FILE}`, `${FILE} is not a directory`), unusable('usernsPinDir', `${FILE}/userns`, `${FILE} is not a directory`)]);
  assert.is(create.length, 3);
  assert.match(create[2]!, 'idMappings');

  const adopt = { mode: 'adopt', netnsPath: '/proc/1/ns/net', netnsInode: 1, ownerInode: 2 } as const;
  assert.equal(problems(bad, { ...adopt, ownerIsHost: false }), [unusable('usernsPinDir', `${FILE}/userns`, `${FILE} is not a directory`)], 'an owner of its own gets pinned; no mapping of ours');
  assert.equal(problems(bad, { ...adopt, ownerIsHost: true }), [], 'a host-owned netns pins nothing');

  const unresolved = problems(bad, undefined);
  assert.is(unresolved.length, 1, 'not yet resolved (looked at again under the lock): as good as create for the mapping');
  assert.match(unresolved[0]!, 'idMappings');
});

test("the plugin's working directory plays no part: nothing to check is nothing checked, also from a read-only cwd", () => {
  const cwd = process.cwd();
  process.chdir(RO);
  try {
    const bad = { usernsPinDir: `${FILE}/userns`, netnsPinDirs: [] };
    assert.equal(problems({ ...bad, existingNetns: 'refuse' }, 'any'), [], 'STATUS with no pin directory to use');
    const adopt = { mode: 'adopt', netnsPath: '/proc/1/ns/net', netnsInode: 1, ownerInode: 2, ownerIsHost: true } as const;
    assert.equal(problems(bad, adopt), [], 'adopting a host-owned netns pins nothing');
  } finally {
    process.chdir(cwd);
  }
});

test('a CNI_NETNS directory is used by its real path: a symlink to a usable directory passes', () => {
  assert.equal(problems({ netnsPinDirs: [OK_DIR], usernsPinDir: OK_DIR }, { mode: 'create', netnsPin: `${LINK_TO_DIR}/pod`, usernsPin: `${OK_DIR}/pod` }), []);
  assert.equal(problems({ netnsPinDirs: [OK_DIR], usernsPinDir: OK_DIR }, { mode: 'create', netnsPin: `${DANGLING}/pod`, usernsPin: `${OK_DIR}/pod` }), [unusable('CNI_NETNS', DANGLING, `${DANGLING} is a symlink to nothing`)]);
});

test('the allocator pool: ADD allocates under the lock (sweeping orphans), only STATUS asks the table ahead; an explicit mapping needs no pool', async () => {
  const pool = { allocator: { start: 40_000 * 65536, count: 1 } };
  const ctx = f.context(undefined, { ...pool, idMappings: undefined });
  const rec = recordFor(ctx, { path: `${OK_DIR}/x`, pin: 'intent' }, { path: `${OK_DIR}/y`, pin: 'intent' });
  await resolveMapping(ctx, rec); // the pool's one block, taken
  const conf = { ...pool, idMappings: undefined, netnsPinDirs: [OK_DIR], usernsPinDir: OK_DIR };
  const full = problems(conf, 'any');
  assert.is(full.length, 1, full.join('\n'));
  assert.match(full[0]!, 'allocator');
  assert.equal(problems(conf, { mode: 'create', netnsPin: `${OK_DIR}/pod`, usernsPin: `${OK_DIR}/pod` }), []);
  assert.equal(problems({ ...conf, idMappings: MAPPING }, 'any'), [], 'an explicit mapping takes nothing from the pool');
  await releaseAllocation(rec, ctx);
});

test('a host-owned adopted netns refuses delegates marked to run in the pod user namespace', () => {
  const conf = { delegates: [{ type: 'dela' }, { type: 'dela', runInPodUserns: true }] };
  const adopt = { mode: 'adopt', netnsPath: '/proc/1/ns/net', netnsInode: 1, ownerInode: 2 } as const;
  const host = problems(conf, { ...adopt, ownerIsHost: true });
  assert.is(host.length, 1, host.join('\n'));
  assert.match(host[0]!, 'delegates[1].runInPodUserns');
  assert.equal(problems(conf, { ...adopt, ownerIsHost: false }), []);
  assert.equal(problems(conf, 'any'), []);
});

test('every delegate binary is looked up, each problem labelled with its delegate', () => {
  const inv = invocation({ delegates: [{ type: 'dela' }, { type: 'nosuch' }, { type: 'alsomissing' }] });
  const found = planProblems(addPlan({ conf: inv.conf, env: inv.env, cniPath: f.bin, target: 'any' }));
  assert.equal(
    found.map(({ step, error }) => [step.label, step.delegate, error.code, error.message]),
    [
      ['delegate "nosuch"', 1, ErrorCode.InvalidNetworkConfig, `failed to find plugin "nosuch" in path [${f.bin}]`],
      ['delegate "alsomissing"', 2, ErrorCode.InvalidNetworkConfig, `failed to find plugin "alsomissing" in path [${f.bin}]`],
    ],
  );
});

test('planProblems runs every step and keeps each problem, in plan order; a plain Error becomes a CNI error', () => {
  const boom = new Error('plain failure');
  const steps = [
    { check: () => undefined },
    {
      label: 'x',
      check: () => {
        throw boom;
      },
    },
    {
      check: () => {
        throw new CniError(ErrorCode.IoFailure, 'io');
      },
    },
  ];
  const out = planProblems(steps);
  assert.is(out.length, 2);
  assert.is(out[0]!.step, steps[1]);
  assert.instance(out[0]!.error, CniError);
  assert.match(out[0]!.error.message, 'plain failure');
  assert.equal([out[1]!.step, out[1]!.error.code, out[1]!.error.message], [steps[2], ErrorCode.IoFailure, 'io']);
});

function addCtx(netns: string, conf: Record<string, unknown> = {}) {
  const inv = invocation({ netnsPinDirs: [OK_DIR], usernsPinDir: OK_DIR, ...conf }, netns);
  return { ctx: contextFor(inv, { network: f.network, containerId: 'c1', ifname: 'eth0' }, captureLog(), openStore(f.dataDir)), inv };
}

test('preflightAdd: a CNI_NETNS that is neither nothing nor a netns is refused before anything is touched', () => {
  const path = `${OK_DIR}/plain-file`;
  writeFileSync(path, 'not a pin');
  const { ctx, inv } = addCtx(path);
  assert.throws(
    () => preflightAdd(ctx, inv as never),
    (e: unknown) => e instanceof CniError && e.message.includes(path),
  );
});

test("preflightAdd: a leftover of this very attachment's killed ADD at CNI_NETNS, or another ADD's reservation, waits for the look under the lock", () => {
  const leftover = `${OK_DIR}/leftover-file`;
  writeFileSync(leftover, 'not a pin');
  const { ctx, inv } = addCtx(leftover);
  ctx.store.put(ctx.key, recordFor(ctx, { path: leftover, pin: 'intent' }, { path: '', pin: 'none' }, { phase: 'adding' }));
  try {
    preflightAdd(ctx, inv as never);
  } finally {
    ctx.store.delete(ctx.key);
  }

  const reservation = `${OK_DIR}/reserved-file`;
  writeFileSync(reservation, '0123456789abcdef');
  const other = addCtx(reservation);
  preflightAdd(other.ctx, other.inv as never);
});

test('preflightAdd: a live netns at CNI_NETNS that the config refuses is refused (after looking again)', async () => {
  const p = pinPaths();
  made.push(p.netnsPin, p.usernsPin);
  await createPinnedNamespaces({ mappings: ONE, ...p });
  const { ctx, inv } = addCtx(p.netnsPin, { existingNetns: 'refuse' });
  assert.throws(
    () => preflightAdd(ctx, inv as never),
    (e: unknown) => e instanceof CniError && e.message.includes(p.netnsPin),
  );
});

test.run();
