// CHECK proves the pin still holds the very netns ADD made. The swapped-in netns here is owned
// by the same (pinned) user namespace, so only the inode comparison can tell the two apart; and
// DEL must then leave the stranger's mount alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { isNsfsMount, sh, withNet } from '../helpers/host';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process in a new netns owned by the user namespace at `usernsPin`. Ended by pid. */
async function netnsInUserns(usernsPin: string): Promise<{ pid: number; stop: () => void }> {
  const child = spawn('nsenter', [`--user=${usernsPin}`, '--setuid', '0', '--setgid', '0', '--', 'unshare', '--net', '--', 'sleep', '60'], { stdio: 'ignore' });
  const pid = child.pid!;
  const hostNet = readlinkSync('/proc/self/ns/net');
  for (let t = 0; t < 5000; t += 20) {
    // nsenter execs unshare, which unshares and execs sleep: same pid throughout.
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) !== hostNet) return { pid, stop: () => child.kill('SIGKILL') };
    } catch {
      /* not yet */
    }
    await sleep(20);
  }
  child.kill('SIGKILL');
  throw new Error('the stranger netns did not appear');
}

test('CHECK after the netns at the pin was swapped (same owner): namespace error naming the inodes; DEL leaves the stranger', async () => {
  await withNet(async (net) => {
    const conf = net.conf('1.0.0');
    const a = net.attachment();
    const add = net.run('ADD', a, conf);
    assert.is(add.status, 0, add.stdout);
    const recorded = JSON.parse(readFileSync(`${net.dataDir}/records/${net.name}+${a.containerId}+eth0.json`, 'utf8')).netns.inode;

    const stranger = await netnsInUserns(a.usernsPin);
    try {
      sh('umount', ['-l', a.netnsPin]);
      sh('mount', ['--bind', `/proc/${stranger.pid}/ns/net`, a.netnsPin]);
      const strangerInode = Number(sh('stat', ['-L', '-c', '%i', a.netnsPin]).trim());
      assert.is.not(strangerInode, recorded);

      const check = net.run('CHECK', a, { ...conf, prevResult: add.json });
      assert.is(check.status, 1);
      assert.is(check.json?.code, 100, check.stdout);
      assert.match(check.json.msg, `is inode ${strangerInode}, recorded ${recorded}`);

      // DEL releases what is ours (the IP, our userns pin) and leaves the stranger's mount.
      assert.is(net.run('DEL', a, conf).status, 0);
      assert.equal(net.reservations(), []);
      assert.ok(isNsfsMount(a.netnsPin), 'the mount that is not ours is left');
      assert.is(Number(sh('stat', ['-L', '-c', '%i', a.netnsPin]).trim()), strangerInode);
    } finally {
      stranger.stop();
      sh('umount', ['-l', a.netnsPin], { allowFail: true });
    }
  });
});

test.run();
