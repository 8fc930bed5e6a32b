// The root tier's private namespaces (test/helpers/private-host.sh): what a run makes in there
// - a bridge, a netns pin, files in /tmp and /var/lib/cni - is never seen outside, not even
// while it runs, and is gone with it when it is killed mid-way. Nested: from inside the root
// tier, "outside" is the tier's own namespace, which these checks hold for just the same.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { removePinLeftovers, sh } from '../helpers/host';
import { REPO } from '../helpers/plugin';
import { uniqueName } from '../helpers/unique';
import { pidsWithArg } from '../runtimes/helpers/processes';

const WRAPPER = join(REPO, 'test', 'helpers', 'private-host.sh');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The wrapper running `script` in its own process group, and its output so far. */
function startInside(script: string) {
  const child = spawn('bash', [WRAPPER, 'sh', '-c', script], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, out: () => out, exited };
}

async function until(what: string, fn: () => boolean, ms = 20_000): Promise<void> {
  for (let t = 0; !fn(); t += 50) {
    if (t > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function seenOutside(name: string) {
  return {
    link: sh('ip', ['-o', 'link', 'show'], { allowFail: true }).includes(name),
    pin: existsSync(`/run/netns/${name}`),
    tmp: existsSync(`/tmp/${name}`),
    cniDir: existsSync(`/var/lib/cni/${name}`),
    nsfs: readFileSync('/proc/self/mountinfo', 'utf8').includes(name),
  };
}
/** Should the wrapper ever let them through: this test's names only, never anything else. */
function removeIfOutside(name: string): void {
  sh('ip', ['link', 'del', name], { allowFail: true });
  removePinLeftovers(name);
  rmSync(`/tmp/${name}`, { force: true });
  rmSync(`/var/lib/cni/${name}`, { recursive: true, force: true });
  for (const pid of pidsWithArg(name)) process.kill(pid, 'SIGKILL');
}
const NOTHING = { link: false, pin: false, tmp: false, cniDir: false, nsfs: false };

test('a run killed mid-way leaves no link, pin, mount, file or process outside its namespaces', async () => {
  const name = uniqueName('uxh');
  const run = startInside(
    [
      'set -e',
      `ip link add ${name} type bridge`,
      `touch /run/netns/${name} && mount --bind /proc/self/ns/net /run/netns/${name}`,
      `mkdir /var/lib/cni/${name} && touch /tmp/${name}`,
      // A daemon that leaves the process group, as containerd's shims do: the PID namespace ends it.
      `setsid bash -c 'exec -a ${name} sleep 600' </dev/null >/dev/null 2>&1 &`,
      `ip -o link show ${name} >/dev/null && findmnt -rn /run/netns/${name} >/dev/null && sleep 0.2 && echo MADE-ALL`,
      'exec sleep 600',
    ].join('\n'),
  );
  try {
    try {
      await until('the run to have made everything', () => run.out().includes('MADE-ALL') || run.child.exitCode !== null);
      assert.ok(run.out().includes('MADE-ALL'), run.out());
      assert.equal(seenOutside(name), NOTHING, 'while it runs');
    } finally {
      try {
        process.kill(-run.child.pid!, 'SIGKILL'); // its process group: the wrapper and the sleeper
      } catch {
        // already ended (it failed before it got to the sleeper)
      }
      await run.exited;
    }
    assert.equal(seenOutside(name), NOTHING, 'after it was killed');
    // Its processes can be seen from outside while it runs (a parent PID namespace sees its
    // children's), but none outlives it.
    assert.equal(pidsWithArg(name), [], 'the daemon that left the process group is gone too');
  } finally {
    removeIfOutside(name);
  }
});

test('inside: network and PID namespaces of its own, lo up, its own /sys/class/net, empty pin dirs and /tmp', async () => {
  const ownNet = readlinkSync('/proc/self/ns/net');
  // A checkout under /tmp (a clone there) is bound back over its own path: the one entry allowed.
  const checkoutInTmp = realpathSync(REPO).match(/^\/tmp\/([^/]+)/)?.[1] ?? '';
  const run = startInside(`readlink /proc/self/ns/net; ps -e --no-headers | wc -l; ip -o link show lo; ls /sys/class/net; ls -A /run/netns /run/userns; stat -f -c %T /tmp; ls -A /tmp | grep -vxF '${checkoutInTmp}' | wc -l`);
  await run.exited;
  const [net = '', processes = '', lo = '', ...rest] = run.out().split('\n');
  assert.is.not(net, ownNet, run.out());
  assert.is(processes.trim(), '4', 'its own processes only: init, sh, ps, wc');
  assert.match(lo, /<LOOPBACK,UP,LOWER_UP>/);
  assert.equal(rest.filter(Boolean), ['lo', '/run/netns:', '', '/run/userns:', 'tmpfs', '0'].filter(Boolean), run.out());
});

test.run();
