// The arm64 self-contained file, checked as far as an x86-64 machine allows: its ELF header,
// that the koffi addon inside is the pinned arm64 one (and not the amd64 one), and, under
// Debian's qemu-user-static with the arm64 glibc/libstdc++ cross packages, that it answers
// VERSION, the about text and STATUS (STATUS loads the embedded addon and calls libc through it).
// Not covered here, on arm64: ADD/DEL/CHECK/GC, i.e. the namespace engine (arm64 takes the exec
// engine: the clone holder is x86-64 machine code), delegates and the journal under real arm64.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_BIN, REPO } from '../helpers/plugin';
import { uniqueName } from '../helpers/unique';

const ARM64 = join(REPO, 'dist', 'userns-netns-linux-arm64');
const AMD64 = join(REPO, 'dist', 'userns-netns-linux-amd64');
const pins = JSON.parse(readFileSync(join(REPO, 'build', 'sea-pins.json'), 'utf8'));
const QEMU = '/usr/bin/qemu-aarch64-static';
const SYSROOT = '/usr/aarch64-linux-gnu'; // libc6-arm64-cross, libstdc++6-arm64-cross

/** The pinned addon of `arch`: where build/sea-inputs.mjs took it from (it checked the sha256). */
function addonOf(arch: 'amd64' | 'arm64'): Buffer {
  const t = pins.targets[arch];
  const cached = join(REPO, 'node_modules/.cache/userns-netns-sea', t.koffiSha256);
  return readFileSync(existsSync(cached) ? cached : join(REPO, 'node_modules', t.koffiPackage, t.koffiFile));
}

test('the arm64 file is an aarch64 ELF whose embedded addon is the arm64 one', () => {
  const exe = readFileSync(ARM64);
  assert.is(exe.readUInt32BE(0), 0x7f454c46, 'ELF magic');
  assert.is(exe[4], 2, 'ELFCLASS64');
  assert.is(exe.readUInt16LE(18), 183, 'e_machine EM_AARCH64');
  const arm = addonOf('arm64');
  const at = exe.indexOf(arm);
  assert.ok(at > 0, 'the arm64 addon bytes are inside');
  assert.is(exe.readUInt16LE(at + 18), 183, 'and that addon is itself an aarch64 ELF');
  assert.is(exe.indexOf(addonOf('amd64').subarray(0, 4096)), -1, 'the amd64 addon is not');
  // The amd64 file the other way round.
  const amd = readFileSync(AMD64);
  assert.is(amd.readUInt16LE(18), 62, 'amd64 file: e_machine EM_X86_64');
  assert.ok(amd.indexOf(addonOf('amd64')) > 0);
  assert.is(amd.indexOf(arm.subarray(0, 4096)), -1);
});

test('dist/SHA256SUMS lists every artifact and its source map with its hash', () => {
  const sums = readFileSync(join(REPO, 'dist', 'SHA256SUMS'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/));
  const artifacts = ['userns-netns', 'userns-netns-linux-amd64', 'userns-netns-linux-arm64'];
  assert.equal(sums.map((s) => s[1]).sort(), [...artifacts, ...artifacts.map((a) => `${a}.map`)].sort());
  for (const [hash, file] of sums) {
    const r = spawnSync('sha256sum', [join(REPO, 'dist', file!)], { encoding: 'utf8' });
    assert.is(r.stdout.split(' ')[0], hash, file);
  }
});

function underQemu(env: Record<string, string>, input: string) {
  return spawnSync(QEMU, [ARM64], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', QEMU_LD_PREFIX: SYSROOT, ...env }, input, encoding: 'utf8', timeout: 120_000 });
}

const haveQemu = existsSync(QEMU) && existsSync(join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1'));
(haveQemu ? test : test.skip)('under qemu-aarch64: VERSION, the about text and STATUS', () => {
  const v = underQemu({ CNI_COMMAND: 'VERSION' }, JSON.stringify({ cniVersion: '1.0.0' }));
  assert.is(v.status, 0, v.stderr);
  assert.equal(JSON.parse(v.stdout).supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);

  const about = underQemu({ CNI_COMMAND: 'VERSION' }, '');
  assert.is(about.status, 0, about.stderr);
  const bare = underQemu({}, '');
  assert.is(bare.status, 0, bare.stderr);
  assert.match(bare.stderr, /^CNI userns-netns plugin version \S+/);

  const base = join('/run', uniqueName('uxarm'));
  mkdirSync(base, { mode: 0o700 });
  try {
    const conf = { cniVersion: '1.1.0', name: 'arm-status', type: 'userns-netns', dataDir: join(base, 'data'), delegates: [{ type: 'bridge', bridge: uniqueName('ua'), ipam: { type: 'host-local', subnet: '10.250.7.0/24' } }] };
    const s = underQemu({ CNI_COMMAND: 'STATUS', CNI_PATH: CNI_BIN, USERNS_NETNS_CACHE_DIR: join(base, 'cache') }, JSON.stringify(conf));
    assert.is(s.status, 0, `${s.stdout} ${s.stderr}`);
    assert.is(s.stdout, '');
    // STATUS went through koffi: the arm64 addon was written to the root-only cache and loaded.
    const addon = readdirSync(join(base, 'cache')).find((f) => f.startsWith('koffi-'));
    assert.is(addon, `koffi-${pins.targets.arm64.koffiSha256.slice(0, 32)}.node`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test.run();
