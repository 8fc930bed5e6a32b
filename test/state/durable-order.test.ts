// Every journal write of one real ADD is durable in the right order: the temp file is fsynced
// before the rename, and the directory is fsynced after it (without that fsync a power cut can
// undo the rename, and the journal forgets a side effect that already happened). Observed with
// strace on the built plugin, so it holds for what ships.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CNI_BIN, PLUGIN, mutantEnv } from '../helpers/plugin';
import { withNet } from '../helpers/host';

interface Call {
  name: string;
  args: string;
}

function syscalls(log: string): Call[] {
  const out: Call[] = [];
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    // "<pid> rename("a", "b") = 0" - only calls that succeeded count.
    const m = /^\d+\s+(rename|renameat2?|fsync|fdatasync)\((.*)\)\s+=\s+0$/.exec(line);
    if (m) out.push({ name: m[1]!, args: m[2]! });
  }
  return out;
}

test('ADD: each record write is fsync(temp) -> rename -> fsync(records dir)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'uxn-strace-'));
  try {
    await withNet((net) => {
      const a = net.attachment();
      const log = join(dir, 'trace');
      const env = { PATH: process.env.PATH!, ...mutantEnv(), CNI_COMMAND: 'ADD', CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netnsPin, CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN };
      const r = spawnSync('strace', ['-f', '-y', '-qq', '-o', log, '-e', 'trace=rename,renameat,renameat2,fsync,fdatasync', PLUGIN], { env, input: JSON.stringify(net.conf('1.0.0')), encoding: 'utf8' });
      assert.is(r.status, 0, r.stdout + r.stderr);

      const recordsDir = join(net.dataDir, 'records');
      const calls = syscalls(log);
      const renames = calls.map((c, i) => ({ c, i })).filter(({ c }) => c.name.startsWith('rename') && c.args.includes(`.json"`) && c.args.includes(`${net.name}+${a.containerId}+eth0.json`));
      // The intent (token, inodes, every delegate's intent) and the ready record: at most 3.
      assert.ok(renames.length >= 2 && renames.length <= 3, `2-3 record writes per ADD, got ${renames.length}`);
      for (const { c, i } of renames) {
        const before = calls[i - 1];
        assert.ok(before && /^f(data)?sync$/.test(before.name) && before.args.includes('.tmp>'), `fsync of the temp file right before ${c.args}: got ${JSON.stringify(before)}`);
        const after = calls[i + 1];
        assert.ok(after && after.name === 'fsync' && after.args.endsWith(`<${recordsDir}>`), `fsync of ${recordsDir} right after ${c.args}: got ${JSON.stringify(after)}`);
      }
      assert.is(net.run('DEL', a, net.conf('1.0.0')).status, 0);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
