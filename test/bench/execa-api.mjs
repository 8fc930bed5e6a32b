// One delegate run in a fresh Node process, with execa's async API vs its sync API, timed from
// process start (process.uptime) to the delegate's answer. Run by test/bench/bench.ts; by hand:
//   node test/bench/execa-api.mjs async|sync|spawnSync   (bench.ts runs it bundled, as the plugin is)
import { execa, execaSync } from 'execa';
import { spawnSync } from 'node:child_process';

const mode = process.argv[2];
const opts = { input: '{"cniVersion":"1.0.0"}', env: { CNI_COMMAND: 'VERSION' }, extendEnv: false, reject: false, stripFinalNewline: false, timeout: 60_000, maxBuffer: 16 << 20 };
const bin = '/usr/lib/cni/host-local';
async function main() {
  const t0 = process.uptime() * 1000;
  let r;
  if (mode === 'async') r = await execa(bin, [], { ...opts, cleanup: true, forceKillAfterDelay: 1000 });
  else if (mode === 'sync') r = execaSync(bin, [], opts);
  else r = spawnSync(bin, [], { input: opts.input, env: opts.env, timeout: 60_000, maxBuffer: 16 << 20, encoding: 'utf8' });
  const t1 = process.uptime() * 1000;
  const cpu = process.cpuUsage();
  if (!String(r.stdout).includes('supportedVersions')) throw new Error(`${mode}: ${r.stdout}`);
  process.stdout.write(JSON.stringify({ mode, runMs: t1 - t0, totalMs: t1, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n');
}
main();
