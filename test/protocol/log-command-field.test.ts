// Every verb writes its log lines to the configured logFile, each line naming the verb and the
// plugin's pid: an operator greps one node's log by command. GC and STATUS make their own
// logger (they have no attachment), DEL and CHECK get theirs from the attachment's context.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CNI_BIN, runPlugin } from '../helpers/plugin';
import { uniqueName } from '../helpers/unique';

const scratch = mkdtempSync(join(tmpdir(), 'uxn-logcmd-')); // root-owned, 0700
test.after(() => rmSync(scratch, { recursive: true, force: true }));

for (const command of ['DEL', 'CHECK', 'GC', 'STATUS'] as const) {
  test(`${command}: every line in logFile names the command and the pid`, () => {
    const logFile = join(scratch, `${command}.log`);
    const conf = { cniVersion: '1.1.0', name: uniqueName('lognet'), type: 'userns-netns', dataDir: join(scratch, uniqueName('d')), logFile, logLevel: 'debug', delegates: [{ type: 'bridge' }] };
    // A never-added attachment: DEL answers 0, CHECK 3; GC and STATUS look at the network.
    const r = runPlugin({ CNI_COMMAND: command, CNI_CONTAINERID: uniqueName('c'), CNI_NETNS: command === 'CHECK' ? '/proc/self/ns/net' : '', CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN }, conf, { timeoutMs: 20_000 });
    assert.ok(r.status === 0 || r.json?.code !== undefined, `${command} answered: ${r.stdout} ${r.stderr}`);
    const lines = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { command?: string; pid?: number; event?: string });
    assert.ok(
      lines.some((l) => l.event === 'start'),
      `a start line: ${JSON.stringify(lines)}`,
    );
    for (const l of lines) {
      assert.is(l.command, command, JSON.stringify(l));
      assert.ok(Number.isInteger(l.pid) && l.pid! > 1, JSON.stringify(l));
    }
  });
}

test.run();
