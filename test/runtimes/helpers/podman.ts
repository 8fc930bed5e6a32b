// A private podman 4.3 (Debian's, with its CNI backend and crun) for one test. Its package is
// never installed: build/install-deps.sh unpacks it into PODMAN_TREE, because installing it
// drops a default conflist into /etc/cni/net.d (which ctr would then load) and config into
// /etc/containers. Every podman call runs in one private mount namespace, held by a sleeper we
// start and end by pid, in which /run, /dev/shm (podman's SHM locks) and /var/lib/cni
// (libcni's result cache, which podman cannot move) are fresh tmpfs mounts, and the cgroup v2
// mount of this host's hybrid layout is gone (crun refuses hybrid mode): nothing podman, crun,
// conmon or our plugin writes there reaches the host, and all of it goes with the namespace.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_BIN, PLUGIN } from '../../helpers/plugin';
import { makeRootfs } from './busybox';
import { pidsWithArg } from './processes';

export const PODMAN_TREE = '/var/cache/userns-netns-test/podman';
const PODMAN = join(PODMAN_TREE, 'usr/bin/podman');

export function podmanMissing(): string | undefined {
  for (const b of ['usr/bin/podman', 'usr/bin/conmon', 'usr/bin/crun']) {
    if (!existsSync(join(PODMAN_TREE, b))) return `${join(PODMAN_TREE, b)} missing (build/install-deps.sh unpacks podman there)`;
  }
  return undefined;
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface Podman {
  /** The CNI config dir podman reads networks from. */
  netDir: string;
  /** `podman ARGS` inside the private namespace. */
  podman(args: string[], opts?: { timeoutMs?: number }): Run;
  /** Any command inside the private namespace (e.g. our operator commands). */
  inNs(cmd: string[], opts?: { input?: string }): Run;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPodman(work: string): Promise<Podman> {
  const dirs = { storage: join(work, 'storage'), run: join(work, 'runroot'), tmp: join(work, 'tmp'), home: join(work, 'home'), netDir: join(work, 'net.d'), bin: join(work, 'cni-bin') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true, mode: 0o711 });
  // The plugin outside dist/ (no package.json above it), beside the real delegates.
  copyFileSync(PLUGIN, join(dirs.bin, 'userns-netns'));
  for (const p of readdirSync(CNI_BIN)) symlinkSync(join(CNI_BIN, p), join(dirs.bin, p));

  const conf = join(work, 'containers.conf');
  writeFileSync(
    conf,
    `[containers]
cgroups = "disabled"
default_ulimits = []
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
conmon_path = ["${join(PODMAN_TREE, 'usr/bin/conmon')}"]
runtime = "crun"
events_logger = "file"
events_logfile_path = "${join(work, 'events.log')}"
tmp_dir = "${dirs.tmp}"
static_dir = "${join(dirs.storage, 'libpod')}"
volume_path = "${join(dirs.storage, 'volumes')}"
[engine.runtimes]
crun = ["${join(PODMAN_TREE, 'usr/bin/crun')}"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["${dirs.bin}"]
network_config_dir = "${dirs.netDir}"
`,
  );
  const storage = join(work, 'storage.conf');
  writeFileSync(storage, `[storage]\ndriver = "vfs"\ngraphroot = "${join(dirs.storage, 'graph')}"\nrunroot = "${dirs.run}"\n`);
  const registries = join(work, 'registries.conf');
  writeFileSync(registries, 'unqualified-search-registries = []\n');
  // containers/image reads $HOME/.config/containers/policy.json before /etc/containers.
  mkdirSync(join(dirs.home, '.config/containers'), { recursive: true });
  writeFileSync(join(dirs.home, '.config/containers/policy.json'), '{"default":[{"type":"insecureAcceptAnything"}]}');
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dirs.home,
    CONTAINERS_CONF: conf,
    CONTAINERS_STORAGE_CONF: storage,
    CONTAINERS_REGISTRIES_CONF: registries,
  };

  const setup = [
    'set -e',
    'mount -t tmpfs -o mode=0755 uxn-run /run',
    'mkdir -p /run/netns /run/userns',
    'mount -t tmpfs -o mode=1777 uxn-shm /dev/shm',
    'mount -t tmpfs -o mode=0755 uxn-cni /var/lib/cni',
    'umount /sys/fs/cgroup/unified 2>/dev/null || true',
    `touch ${join(work, 'ns-ready')}`,
    'exec sleep 3600',
  ].join('\n');
  const holder = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', setup], { stdio: 'ignore' });
  const pid = holder.pid!;
  for (let t = 0; !existsSync(join(work, 'ns-ready')); t += 20) {
    if (holder.exitCode !== null || t > 10_000) throw new Error(`the private mount namespace did not come up (exit ${holder.exitCode})`);
    await sleep(20);
  }

  const inNs = (cmd: string[], opts: { input?: string; timeoutMs?: number } = {}): Run => {
    const r = spawnSync('nsenter', ['-t', String(pid), '-m', '--', ...cmd], { env, input: opts.input, encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const podman = (args: string[], opts: { timeoutMs?: number } = {}) => inNs([PODMAN, '--root', join(dirs.storage, 'graph'), '--runroot', dirs.run, ...args], opts);

  const stop = async () => {
    podman(['rm', '-f', '-a', '-t', '0'], { timeoutMs: 60_000 });
    // conmon outlives podman (reparented to init): ours carry our work dir in their arguments.
    for (const p of [...pidsWithArg(work, { within: true }), pid]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (let t = 0; existsSync(`/proc/${pid}`) && t < 5000; t += 50) await sleep(50);
  };
  return { netDir: dirs.netDir, podman, inNs, stop };
}

/** A one-layer busybox image, imported from a rootfs tar made here (no registry). */
export function importBusybox(p: Podman, work: string, ref: string): void {
  const rootfs = makeRootfs(join(work, 'image-rootfs'));
  const tar = join(work, 'busybox.tar');
  const r = spawnSync('tar', ['-C', rootfs, '-cf', tar, '.']);
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  const imp = p.podman(['import', tar, ref]);
  if (imp.status !== 0) throw new Error(`podman import: ${imp.stderr}`);
}
