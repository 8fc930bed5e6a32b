// Builds test/cnitool/fixtures/cnitool.go (a cnitool stand-in on Debian's libcni) once per test
// process, and runs it the way a user runs cnitool: a conflist directory, CNI_PATH, a netns path.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLUGIN } from '../../helpers/plugin';
import type { TestNet } from '../../helpers/host';

const SOURCE = join(import.meta.dirname, '..', 'fixtures', 'cnitool.go');
/** Debian's golang-github-appc-cni-dev: libcni 1.1.2 in GOPATH layout. */
const DEBIAN_GOPATH = '/usr/share/gocode';

let built: { bin: string; dir: string; ms: number } | undefined;
/** A failed build, kept so every test fails with the same compiler output without rebuilding. */
let buildError: Error | undefined;

/** Why the cnitool tests cannot run at all here, or undefined. Only a missing `go` qualifies. */
export function skipReason(): string | undefined {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  return r.error ? `go not found (${r.error.message}): install golang-go (build/install-deps.sh)` : undefined;
}

/**
 * The built binary. A failed build throws with the compiler's output: a broken fixture or a
 * missing libcni must fail the test, not hide it. GOPATH mode (GO111MODULE=off) because Debian
 * ships libcni as GOPATH source, not as a module; private GOPATH tail and GOCACHE so nothing
 * outside the temp dir is written; CGO off so no C compiler is needed.
 */
export function cnitoolBin(): { bin: string; ms: number } {
  if (built) return built;
  if (buildError) throw buildError;
  const dir = mkdtempSync(join(tmpdir(), 'uxn-cnitool-'));
  const bin = join(dir, 'cnitool');
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir,
    GO111MODULE: 'off',
    GOPATH: `${DEBIAN_GOPATH}:${join(dir, 'gopath')}`,
    GOCACHE: join(dir, 'gocache'),
    CGO_ENABLED: '0',
    GOFLAGS: '',
  };
  const t0 = Date.now();
  const r = spawnSync('go', ['build', '-o', bin, SOURCE], { env, encoding: 'utf8', timeout: 300_000 });
  const ms = Date.now() - t0;
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw (buildError = new Error(`go build of ${SOURCE} failed (status ${r.status}, ${r.error?.message ?? 'no spawn error'}):\n${r.stdout}${r.stderr}`));
  }
  built = { bin, dir, ms };
  return built;
}

export function removeBuild(): void {
  if (built) rmSync(built.dir, { recursive: true, force: true });
  built = undefined;
}

/** cnitool's container id: "cnitool-" + the first 10 bytes of sha512(absolute netns path), in hex. */
export function cnitoolContainerId(netnsPath: string): string {
  return `cnitool-${createHash('sha512').update(netnsPath).digest('hex').slice(0, 20)}`;
}

export interface CnitoolEnv {
  netconfPath: string;
  cniPath: string;
  cacheDir: string;
}

/**
 * A private NETCONFPATH holding `conflist`, a CNI_PATH of [a dir with a symlink to the built
 * plugin, /usr/lib/cni] (the way an operator drops the file next to the distro's plugins), and
 * libcni's cache dir - all inside the test network's temp dir, which its cleanup removes.
 */
export function cnitoolEnv(net: TestNet, conflist: Record<string, unknown>): CnitoolEnv {
  const netconfPath = join(net.dir, 'net.d');
  const binDir = join(net.dir, 'bin');
  mkdirSync(netconfPath, { recursive: true });
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(netconfPath, `10-${conflist.name as string}.conflist`), JSON.stringify(conflist, null, 2));
  try {
    symlinkSync(PLUGIN, join(binDir, 'userns-netns'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return { netconfPath, cniPath: `${binDir}:/usr/lib/cni`, cacheDir: join(net.dir, 'libcni-cache') };
}

/** The conflist a user would write: our plugin alone, bridge + host-local as its delegates. */
export function conflist(net: TestNet, cniVersion: string, entry: Record<string, unknown> = {}): Record<string, unknown> {
  const { cniVersion: _v, name: _n, ...plugin } = net.conf(cniVersion, entry);
  return { cniVersion, name: net.name, plugins: [plugin] };
}

export interface CnitoolRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function cnitool(verb: 'add' | 'check' | 'del', e: CnitoolEnv, network: string, netnsPath: string, extra: { CNI_ARGS?: string; CAP_ARGS?: string } = {}): CnitoolRun {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    NETCONFPATH: e.netconfPath,
    CNI_PATH: e.cniPath,
    CNI_CACHE_DIR: e.cacheDir,
    ...extra,
  };
  const r = spawnSync(cnitoolBin().bin, [verb, network, netnsPath], { env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr + (r.error ? `\n${r.error.message}` : '') };
}

/** libcni's cached result for the attachment (written on add, removed on del). */
export function cacheFile(e: CnitoolEnv, network: string, netnsPath: string, ifname = 'eth0'): string {
  return join(e.cacheDir, 'results', `${network}-${cnitoolContainerId(netnsPath)}-${ifname}`);
}
