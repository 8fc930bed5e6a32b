// npm run bench: each artifact against the floor it cannot go below, measured in one run with
// the commands interleaved (the machine is noisy: compare ratios, not milliseconds).
//   floor      node -e 0
//   delegates  bridge (+ host-local) ADD and DEL run directly on a netns from `ip netns add`
//   ours       ADD and DEL through each artifact (the self-contained amd64 file, the Node-script
//              file), create mode and adopt mode
//   split      the cost of one ADD and one DEL, from the plugin's JSON-lines log: process start
//              (to the launcher's first line), our start-up (launcher to the verb), each delegate
//              (and what it costs over the same delegate run directly), namespaces, journal
//   execa      one delegate run in a fresh process with execa's async API vs its sync API
//   parallel   32 ADDs at once then 32 DELs: each artifact, the delegates directly, 32 x node -e 0
// Prints a table and a JSON document; exits 1 when a target is missed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ARTIFACTS, CNI_BIN } from '../helpers/plugin';
import { newTestNet, sh } from '../helpers/host';
import { benchHelper } from './helper-bench';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const WARMUP = 3;
const PARALLEL = 32;
const EXECA_ROUNDS = 15;
const TARGET = { ADD: 1.7, DEL: 1.5, rssMb: 60 };

type Env = Record<string, string>;
type Art = keyof typeof ARTIFACTS;
const ARTS = Object.keys(ARTIFACTS) as Art[];

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
    child.on('close', (status) => resolve({ status, stdout })); // 'close': stdout read to its end
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
const median = (xs: number[]) => stats(xs).median;

function check(r: { status: number | null; stdout: string }, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed: ${r.stdout}`);
}

/** execa's async vs sync API, one delegate VERSION in a fresh process, bundled like the plugin. */
async function execaApis(): Promise<Record<string, { runMs: number; cpuMs: number }>> {
  const dir = mkdtempSync(join(tmpdir(), 'uxn-execa-'));
  try {
    const out = join(dir, 'execa-api.cjs');
    await build({ entryPoints: [join(import.meta.dirname, 'execa-api.mjs')], bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify: true, outfile: out, logLevel: 'error' });
    const runs: Record<string, { runMs: number[]; cpuMs: number[] }> = {};
    for (let i = 0; i < EXECA_ROUNDS; i++) {
      for (const mode of ['async', 'sync', 'spawnSync']) {
        const r = spawnSync('node', [out, mode], { encoding: 'utf8' });
        const j = JSON.parse(r.stdout);
        const e = (runs[mode] ??= { runMs: [], cpuMs: [] });
        e.runMs.push(j.runMs);
        e.cpuMs.push(j.cpuMs);
      }
    }
    return Object.fromEntries(Object.entries(runs).map(([m, v]) => [m, { runMs: median(v.runMs), cpuMs: median(v.cpuMs) }]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface LogLine {
  event: string;
  command?: string;
  step?: string;
  durationMs?: number;
  delegate?: string;
  startupMs?: number;
  marks?: Record<string, number>;
  totalMs?: number;
  maxRssKb?: number;
}

/** The cost split of one ADD and one DEL (medians over the create-mode rounds), from the log. */
function split(lines: LogLine[], direct: { ADD: number; DEL: number }) {
  const by: Record<string, number[]> = {};
  const put = (k: string, v: number | undefined) => v !== undefined && (by[k] ??= []).push(v);
  let peakRssKb = 0;
  for (const l of lines) {
    const c = l.command;
    if (l.event === 'start') {
      put(`${c}:process start`, l.marks?.launcher);
      put(`${c}:our start-up`, l.startupMs !== undefined && l.marks?.launcher !== undefined ? l.startupMs - l.marks.launcher : undefined);
    }
    if (l.event === 'step' && l.step === 'namespaces') put(`${c}:namespaces`, l.durationMs);
    if (l.event === 'step' && (l.step === 'delegate-add' || l.step === 'delegate-del')) put(`${c}:delegate ${l.delegate}`, l.durationMs);
    if (l.event === 'step' && l.step === 'record') put(`${c}:journal (one record write)`, l.durationMs);
    if (l.event === 'step' && l.step === 'unpin') put(`${c}:unpin`, l.durationMs);
    if (l.event === 'done') {
      put(`${c}:total (start to done)`, l.totalMs);
      peakRssKb = Math.max(peakRssKb, l.maxRssKb ?? 0);
    }
  }
  const m = Object.fromEntries(Object.entries(by).map(([k, v]) => [k, median(v)]));
  for (const verb of ['ADD', 'DEL'] as const) {
    const d = m[`${verb}:delegate bridge`];
    if (d !== undefined) m[`${verb}:delegate bridge over direct`] = round(d - direct[verb]);
  }
  return { split: m, peakRssMb: round(peakRssKb / 1024) };
}

async function main(): Promise<void> {
  for (const a of ARTS) if (!existsSync(ARTIFACTS[a])) throw new Error(`${ARTIFACTS[a]} missing: run npm run build first`);
  const net = newTestNet('bn');
  const logFile = (a: Art) => join(net.dir, `plugin-${a}.log`);
  const confs = Object.fromEntries(ARTS.map((a) => [a, JSON.stringify(net.conf('1.0.0', { logFile: logFile(a) }))])) as Record<Art, string>;
  const bridgeConf = JSON.stringify({ ...net.bridgeDelegate(), name: `${net.name}-direct`, cniVersion: '1.0.0' });
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
    const adoptNs = Object.fromEntries(ARTS.map((a) => [a, ipns(`${net.name}-a${a}`)])) as Record<Art, string>;
    // A cache dir of our own: the default /var/cache/userns-netns is shared with every other
    // build run on this machine, and each build drops the others' code caches when it writes.
    const cacheDir = join(net.dir, 'cache');
    const cniEnv = (cmd: string, id: string, netns: string): Env => ({ CNI_COMMAND: cmd, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN, USERNS_NETNS_CACHE_DIR: cacheDir });

    for (let i = -WARMUP; i < ROUNDS; i++) {
      const keep = i >= 0;
      const f = timeSync('node', ['-e', '0'], {});
      const dAdd = timeSync(join(CNI_BIN, 'bridge'), [], cniEnv('ADD', `d${i}`, directNs), bridgeConf);
      check(dAdd, 'direct ADD');
      const dDel = timeSync(join(CNI_BIN, 'bridge'), [], cniEnv('DEL', `d${i}`, directNs), bridgeConf);
      check(dDel, 'direct DEL');
      if (keep) {
        add('floor', f.ms);
        add('delegates_ADD', dAdd.ms);
        add('delegates_DEL', dDel.ms);
      }
      for (const art of ARTS) {
        const p = ARTIFACTS[art];
        const a = net.attachment();
        const oAdd = timeSync(p, [], cniEnv('ADD', a.containerId, a.netnsPin), confs[art]);
        check(oAdd, `${art} ADD`);
        const oDel = timeSync(p, [], cniEnv('DEL', a.containerId, a.netnsPin), confs[art]);
        check(oDel, `${art} DEL`);
        const pAdd = timeSync(p, [], cniEnv('ADD', `${a.containerId}a`, adoptNs[art]), confs[art]);
        check(pAdd, `${art} adopt ADD`);
        const pDel = timeSync(p, [], cniEnv('DEL', `${a.containerId}a`, adoptNs[art]), confs[art]);
        check(pDel, `${art} adopt DEL`);
        if (!keep) continue;
        add(`${art}_ADD`, oAdd.ms);
        add(`${art}_DEL`, oDel.ms);
        add(`${art}_adopt_ADD`, pAdd.ms);
        add(`${art}_adopt_DEL`, pDel.ms);
      }
    }
    const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
    const med = (k: string) => s[k]!.median;

    // Per artifact: the split (create-mode and adopt-mode lines alike carry start/done; only
    // the create-mode rounds have a namespaces step), peak RSS.
    const perArt = Object.fromEntries(
      ARTS.map((art) => {
        const lines = readFileSync(logFile(art), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as LogLine);
        return [art, split(lines, { ADD: med('delegates_ADD'), DEL: med('delegates_DEL') })];
      }),
    ) as Record<Art, ReturnType<typeof split>>;

    // Parallel: 32 at once, per artifact.
    const par = Array.from({ length: PARALLEL }, () => net.attachment());
    const parNs = par.map((_, i) => ipns(`${net.name}-p${i}`));
    const floorPar = await wall(par.map(() => () => timeAsync('node', ['-e', '0'], {})));
    const delegatesParAdd = await wall(par.map((_, i) => () => timeAsync(join(CNI_BIN, 'bridge'), [], cniEnv('ADD', `pd${i}`, parNs[i]!), bridgeConf)));
    const delegatesParDel = await wall(par.map((_, i) => () => timeAsync(join(CNI_BIN, 'bridge'), [], cniEnv('DEL', `pd${i}`, parNs[i]!), bridgeConf)));
    const parallel: Record<string, unknown> = {
      floor_ms: round(floorPar.ms),
      delegates_ADD_ms: round(delegatesParAdd.ms),
      delegates_DEL_ms: round(delegatesParDel.ms),
      delegates_failures: delegatesParAdd.failures + delegatesParDel.failures,
    };
    const parFailures: Record<string, number> = {};
    const parRatio: Record<string, number> = {};
    for (const art of ARTS) {
      const atts = par.map(() => net.attachment());
      const pa = await wall(atts.map((a) => () => timeAsync(ARTIFACTS[art], [], cniEnv('ADD', a.containerId, a.netnsPin), confs[art])));
      const pd = await wall(atts.map((a) => () => timeAsync(ARTIFACTS[art], [], cniEnv('DEL', a.containerId, a.netnsPin), confs[art])));
      parallel[`${art}_ADD_ms`] = round(pa.ms);
      parallel[`${art}_DEL_ms`] = round(pd.ms);
      parFailures[art] = pa.failures + pd.failures;
      parRatio[art] = round((pa.ms + pd.ms) / (floorPar.ms * 2 + delegatesParAdd.ms + delegatesParDel.ms));
    }
    parallel.failures = parFailures;
    parallel.ratio = parRatio;

    const execa = await execaApis();
    const helper = await benchHelper({ net, rounds: ROUNDS, cacheDir, directNs, bridgeConf, parallelFloorMs: floorPar.ms * 2 + delegatesParAdd.ms + delegatesParDel.ms });

    const ratios = Object.fromEntries(
      ARTS.map((art) => [
        art,
        {
          ADD: round(med(`${art}_ADD`) / (med('floor') + med('delegates_ADD'))),
          DEL: round(med(`${art}_DEL`) / (med('floor') + med('delegates_DEL'))),
          adopt_ADD: round(med(`${art}_adopt_ADD`) / (med('floor') + med('delegates_ADD'))),
        },
      ]),
    ) as Record<Art, { ADD: number; DEL: number; adopt_ADD: number }>;
    const sizes = Object.fromEntries([...ARTS.map((a) => [a, statSync(ARTIFACTS[a]).size]), ['arm64', statSync(join(ARTIFACTS.sea, '..', 'userns-netns-linux-arm64')).size]]);
    const targets: Record<string, boolean> = {};
    for (const art of ARTS) {
      targets[`${art}: ADD ratio <= ${TARGET.ADD}`] = ratios[art].ADD <= TARGET.ADD;
      targets[`${art}: DEL ratio <= ${TARGET.DEL}`] = ratios[art].DEL <= TARGET.DEL;
      targets[`${art}: peak RSS <= ${TARGET.rssMb} MB`] = perArt[art].peakRssMb <= TARGET.rssMb;
      targets[`${art}: ${PARALLEL} parallel ADD+DEL, 0 failures`] = parFailures[art] === 0;
    }

    console.log(`\nrounds: ${ROUNDS} (after ${WARMUP} warm-up), load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
    console.log('what'.padEnd(36) + 'median ms'.padStart(11) + 'p90 ms'.padStart(10));
    for (const [k, v] of Object.entries(s)) console.log(k.padEnd(36) + String(v.median).padStart(11) + String(v.p90).padStart(10));
    for (const art of ARTS) {
      console.log(`\ncost split, ${art} (${ARTIFACTS[art]}), medians in ms:`);
      for (const [k, v] of Object.entries(perArt[art].split).sort()) console.log(`  ${k.padEnd(40)}${String(v).padStart(9)}`);
    }
    console.log(
      `\nexeca, one delegate in a fresh process (median of ${EXECA_ROUNDS}): ${Object.entries(execa)
        .map(([m, v]) => `${m} ${v.runMs} ms (cpu ${v.cpuMs} ms total)`)
        .join(', ')}`,
    );
    console.log(`parallel x${PARALLEL}: ${JSON.stringify(parallel)}`);
    for (const art of ARTS) console.log(`${art}: peak RSS ${perArt[art].peakRssMb} MB, size ${(sizes[art]! / 1048576).toFixed(1)} MiB, ratios ADD ${ratios[art].ADD}, DEL ${ratios[art].DEL}, adopt ADD ${ratios[art].adopt_ADD}`);
    console.log(`arm64 file size ${(sizes.arm64! / 1048576).toFixed(1)} MiB`);
    console.log(`helper (sea + serve): ${JSON.stringify(helper)}`);
    for (const [t, ok] of Object.entries(targets)) console.log(`${ok ? 'ok  ' : 'MISS'} ${t}`);
    console.log('\n' + JSON.stringify({ rounds: ROUNDS, samples: s, split: perArt, execa, parallel, ratios, helper, sizes, targets }));
    if (Object.values(targets).some((ok) => !ok)) process.exitCode = 1;
  } finally {
    for (const n of direct) sh('ip', ['netns', 'del', n], { allowFail: true });
    net.cleanup();
  }
}

await main();
// The cost at scale (other attachments' records in the data dir); BENCH_SCALE=0 skips it.
if (process.env.BENCH_SCALE !== '0') await import('./scale-bench');
