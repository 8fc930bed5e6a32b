// npm run bench: the plugin against the floor it cannot go below, measured in one run with
// the commands interleaved (the machine is noisy: compare ratios, not milliseconds).
//   floor      node -e 0
//   delegates  bridge + host-local ADD and DEL run directly on a netns from `ip netns add`
//   ours       ADD and DEL through the built single file, create mode and adopt mode
//   steps      the plugin's own per-step times, from its JSON-lines log
//   parallel   32 ADDs at once then 32 DELs: ours, the delegates directly, 32 x node -e 0
// Prints a table and a JSON document; exits 1 when a target is missed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_BIN, PLUGIN } from '../helpers/plugin';
import { newTestNet, sh } from '../helpers/host';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const WARMUP = 3;
const PARALLEL = 32;

type Env = Record<string, string>;

function timeSync(cmd: string, args: string[], env: Env, input = ''): { ms: number; status: number | null; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env: { PATH: process.env.PATH!, ...env }, input, encoding: 'utf8' });
  return { ms: performance.now() - t0, status: r.status, stdout: r.stdout };
}

function timeAsync(cmd: string, args: string[], env: Env, input = ''): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { PATH: process.env.PATH!, ...env } });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stdin.end(input);
    child.on('exit', (status) => resolve({ status, stdout }));
  });
}

async function wall(jobs: Array<() => Promise<{ status: number | null }>>): Promise<{ ms: number; failures: number }> {
  const t0 = performance.now();
  const rs = await Promise.all(jobs.map((j) => j()));
  return { ms: performance.now() - t0, failures: rs.filter((r) => r.status !== 0).length };
}

function stats(xs: number[]): { median: number; p90: number; n: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))] ?? NaN;
  return { median: round(at(0.5)), p90: round(at(0.9)), n: s.length };
}

const round = (x: number) => Math.round(x * 100) / 100;

function check(r: { status: number | null; stdout: string }, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed: ${r.stdout}`);
}

async function main(): Promise<void> {
  if (!existsSync(PLUGIN)) throw new Error('run npm run build first');
  const net = newTestNet('bn');
  const logFile = join(net.dir, 'plugin.log');
  const conf = net.conf('1.0.0', { logFile });
  const bridgeConf = { ...net.bridgeDelegate(), name: `${net.name}-direct`, cniVersion: '1.0.0' };
  const direct: string[] = [];
  const samples: Record<string, number[]> = {};
  const add = (k: string, v: number) => (samples[k] ??= []).push(v);
  const ipns = (name: string) => {
    sh('ip', ['netns', 'add', name]);
    direct.push(name);
    return `/run/netns/${name}`;
  };
  try {
    const directNs = ipns(`${net.name}-d`);
    const adoptNs = ipns(`${net.name}-a`);
    const cniEnv = (cmd: string, id: string, netns: string): Env => ({ CNI_COMMAND: cmd, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN });
    const oursConf = JSON.stringify(conf);
    const directConf = JSON.stringify(bridgeConf);

    for (let i = -WARMUP; i < ROUNDS; i++) {
      const keep = i >= 0;
      const f = timeSync('node', ['-e', '0'], {});
      const dAdd = timeSync(join(CNI_BIN, 'bridge'), [], cniEnv('ADD', `d${i}`, directNs), directConf);
      check(dAdd, 'direct ADD');
      const dDel = timeSync(join(CNI_BIN, 'bridge'), [], cniEnv('DEL', `d${i}`, directNs), directConf);
      check(dDel, 'direct DEL');
      const a = net.attachment();
      const oAdd = timeSync(PLUGIN, [], cniEnv('ADD', a.containerId, a.netnsPin), oursConf);
      check(oAdd, 'ours ADD');
      const oDel = timeSync(PLUGIN, [], cniEnv('DEL', a.containerId, a.netnsPin), oursConf);
      check(oDel, 'ours DEL');
      const pAdd = timeSync(PLUGIN, [], cniEnv('ADD', `${a.containerId}a`, adoptNs), oursConf);
      check(pAdd, 'adopt ADD');
      const pDel = timeSync(PLUGIN, [], cniEnv('DEL', `${a.containerId}a`, adoptNs), oursConf);
      check(pDel, 'adopt DEL');
      if (!keep) continue;
      add('floor', f.ms);
      add('delegates_ADD', dAdd.ms);
      add('delegates_DEL', dDel.ms);
      add('ours_ADD', oAdd.ms);
      add('ours_DEL', oDel.ms);
      add('adopt_ADD', pAdd.ms);
      add('adopt_DEL', pDel.ms);
    }

    // The plugin's own view: per-step durations and peak RSS, from its log (create-mode rounds).
    const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const steps: Record<string, number[]> = {};
    const stepAdd = (k: string, v: number) => (steps[k] ??= []).push(v);
    let peakRssKb = 0;
    for (const l of lines) {
      if (l.event === 'start') stepAdd(`startup_${l.command}`, l.startupMs);
      if (l.event === 'step') stepAdd(`${l.command}:${l.step}`, l.durationMs);
      if (l.event === 'done') peakRssKb = Math.max(peakRssKb, l.maxRssKb ?? 0);
    }

    // Parallel: 32 at once.
    const par = Array.from({ length: PARALLEL }, () => net.attachment());
    const parNs = par.map((_, i) => ipns(`${net.name}-p${i}`));
    const floorPar = await wall(par.map(() => () => timeAsync('node', ['-e', '0'], {})));
    const delegatesParAdd = await wall(par.map((_, i) => () => timeAsync(join(CNI_BIN, 'bridge'), [], cniEnv('ADD', `pd${i}`, parNs[i]!), directConf)));
    const delegatesParDel = await wall(par.map((_, i) => () => timeAsync(join(CNI_BIN, 'bridge'), [], cniEnv('DEL', `pd${i}`, parNs[i]!), directConf)));
    const oursParAdd = await wall(par.map((a) => () => timeAsync(PLUGIN, [], cniEnv('ADD', a.containerId, a.netnsPin), oursConf)));
    const oursParDel = await wall(par.map((a) => () => timeAsync(PLUGIN, [], cniEnv('DEL', a.containerId, a.netnsPin), oursConf)));

    const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
    const st = Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, stats(v)]));
    const med = (k: string) => s[k]!.median;
    const floorAndDelegatesPar = floorPar.ms * 2 + delegatesParAdd.ms + delegatesParDel.ms;
    const ratios = {
      ADD: round(med('ours_ADD') / (med('floor') + med('delegates_ADD'))),
      DEL: round(med('ours_DEL') / (med('floor') + med('delegates_DEL'))),
      adopt_ADD: round(med('adopt_ADD') / (med('floor') + med('delegates_ADD'))),
      parallel: round((oursParAdd.ms + oursParDel.ms) / (floorPar.ms * 2 + delegatesParAdd.ms + delegatesParDel.ms)),
    };
    const nsStage = st['ADD:namespaces']?.median ?? NaN;
    const parallel = {
      floor_parallel_ms: round(floorPar.ms),
      delegates_parallel_ADD_ms: round(delegatesParAdd.ms),
      delegates_parallel_DEL_ms: round(delegatesParDel.ms),
      ours_parallel_ADD_ms: round(oursParAdd.ms),
      ours_parallel_DEL_ms: round(oursParDel.ms),
      failures: { ours: oursParAdd.failures + oursParDel.failures, delegates: delegatesParAdd.failures + delegatesParDel.failures },
      floor_plus_delegates_ms: round(floorAndDelegatesPar),
    };
    const targets = {
      'ADD ratio <= 1.25': ratios.ADD <= 1.25,
      'DEL ratio <= 1.25': ratios.DEL <= 1.25,
      'namespace stage <= 10 ms': nsStage <= 10,
      'peak RSS <= 60 MB': peakRssKb / 1024 <= 60,
      'parallel: 0 failures': parallel.failures.ours === 0,
      'parallel ratio <= 1.25': ratios.parallel <= 1.25,
    };

    console.log(`\nrounds: ${ROUNDS} (after ${WARMUP} warm-up), load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
    console.log('what'.padEnd(28) + 'median ms'.padStart(11) + 'p90 ms'.padStart(10));
    for (const [k, v] of [...Object.entries(s), ...Object.entries(st)]) console.log(k.padEnd(28) + String(v.median).padStart(11) + String(v.p90).padStart(10));
    console.log(`\nparallel x${PARALLEL}: ${JSON.stringify(parallel)}`);
    console.log(`peak RSS of the plugin: ${round(peakRssKb / 1024)} MB`);
    console.log(`ratios: ADD ${ratios.ADD}, DEL ${ratios.DEL}, adopt ADD ${ratios.adopt_ADD}, parallel ${ratios.parallel}`);
    for (const [t, ok] of Object.entries(targets)) console.log(`${ok ? 'ok  ' : 'MISS'} ${t}`);
    console.log('\n' + JSON.stringify({ rounds: ROUNDS, samples: s, steps: st, parallel, peakRssMb: round(peakRssKb / 1024), ratios, targets }));
    if (Object.values(targets).some((ok) => !ok)) process.exitCode = 1;
  } finally {
    for (const n of direct) sh('ip', ['netns', 'del', n], { allowFail: true });
    net.cleanup();
    rmSync(logFile, { force: true });
  }
}

await main();
// The cost at scale (other attachments' records in the data dir); BENCH_SCALE=0 skips it.
if (process.env.BENCH_SCALE !== '0') await import('./scale-bench');
