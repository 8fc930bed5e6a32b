// npm run bench:scale (and the end of npm run bench): does an ADD cost the same with 5
// attachments in the data dir or 5000? Two data dirs on one real bridge network, one empty and
// one holding N synthetic records (copies of a real record under other container ids, written
// as files, with the table entries ADD would have made - test/idmap/helpers/synthetic.ts),
// measured in the same run with the ADD+DEL pairs interleaved, for N = 1000 and 5000, in
// allocator mode and with a static mapping. Then 24 ADDs at once (and their DELs) with 4000
// records, default lockTimeoutMs; GC and `list --json` with 5000 records. Prints the ratios,
// a JSON document, and exits 1 when a target is missed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_BIN, PLUGIN } from '../helpers/plugin';
import { newTestNet, type TestNet } from '../helpers/host';
import { addSynthetic } from '../idmap/helpers/synthetic';

const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 12);
const WARMUP = 2;
const SIZES = [1000, 5000];
const PARALLEL = 24;
const PARALLEL_RECORDS = 4000;
// Far above the test suites' pools (they stay below 0xF4000000): blocks for the real ADDs only.
const POOL = { start: 0xf800_0000, count: 64 };

type Env = Record<string, string>;
type Attachment = ReturnType<TestNet['attachment']>;

const round = (x: number) => Math.round(x * 100) / 100;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : round(s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2);
};

function cniEnv(cmd: string, a: { containerId: string; netnsPin: string }): Env {
  return { CNI_COMMAND: cmd, CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netnsPin, CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN };
}

function run(env: Env, conf: object, args: string[] = []): { ms: number; status: number | null; stdout: string; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(PLUGIN, args, { env: { PATH: process.env.PATH!, ...env }, input: JSON.stringify(conf), encoding: 'utf8', maxBuffer: 64 << 20 });
  return { ms: performance.now() - t0, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function must<T extends { status: number | null; stdout: string; stderr: string }>(r: T, what: string): T {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r;
}

function runAsync(env: Env, conf: object): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(PLUGIN, [], { env: { PATH: process.env.PATH!, ...env } });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stdin.end(JSON.stringify(conf));
    child.on('close', (status) => resolve({ status, stdout })); // 'close': stdout read to its end
  });
}

async function wall(jobs: Array<() => Promise<{ status: number | null; stdout: string }>>): Promise<{ ms: number; failures: string[] }> {
  const t0 = performance.now();
  const rs = await Promise.all(jobs.map((j) => j()));
  return { ms: round(performance.now() - t0), failures: rs.filter((r) => r.status !== 0).map((r) => r.stdout.trim()) };
}

/** Median durations of the plugin's own steps, from its log, since `from` lines. */
function stepMedians(logFile: string, from: number): Record<string, number> {
  if (!existsSync(logFile)) return {};
  const lines = readFileSync(logFile, 'utf8')
    .trim()
    .split('\n')
    .slice(from)
    .map((l) => JSON.parse(l));
  const steps: Record<string, number[]> = {};
  for (const l of lines) if (l.event === 'step') (steps[`${l.command}:${l.step}`] ??= []).push(l.durationMs);
  return Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, median(v)]));
}

const lineCount = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').length : 0);

type Mode = 'allocator' | 'static';

function confFor(net: TestNet, mode: Mode, dataDir: string, logFile: string): Record<string, unknown> {
  const extra = mode === 'allocator' ? { idMappings: undefined, allocator: POOL } : {};
  return net.conf('1.0.0', { dataDir, logFile, logLevel: 'info', ...extra });
}

/** Grows the data dir of `conf` to `n` synthetic records: one real ADD as the template, copied, then DELed. */
function seed(net: TestNet, conf: Record<string, unknown>, have: number, n: number, tag: string): void {
  if (n <= have) return;
  const t = net.attachment();
  must(run(cniEnv('ADD', t), conf), 'template ADD');
  addSynthetic(String(conf.dataDir), { network: net.name, containerId: t.containerId, ifname: 'eth0' }, n - have, `${tag}x`);
  must(run(cniEnv('DEL', t), conf), 'template DEL');
}

interface PairResult {
  mode: Mode;
  records: number;
  addDel0: number;
  addDelN: number;
  add0: number;
  addN: number;
  del0: number;
  delN: number;
  ratio: number;
  tableLocked0: number;
  tableLockedN: number;
}

function interleaved(net: TestNet, mode: Mode, conf0: Record<string, unknown>, confN: Record<string, unknown>, records: number): PairResult {
  const s: Record<'add0' | 'del0' | 'addN' | 'delN', number[]> = { add0: [], del0: [], addN: [], delN: [] };
  const logs = [String(conf0.logFile), String(confN.logFile)];
  let from = [0, 0];
  for (let i = -WARMUP; i < ROUNDS; i++) {
    if (i === 0) from = logs.map(lineCount);
    // Alternate which data dir goes first, so drift on a noisy machine hits both alike.
    const order = i % 2 === 0 ? (['0', 'N'] as const) : (['N', '0'] as const);
    for (const which of order) {
      const conf = which === '0' ? conf0 : confN;
      const a: Attachment = net.attachment();
      const add = must(run(cniEnv('ADD', a), conf), `${mode} ADD (${which})`);
      const del = must(run(cniEnv('DEL', a), conf), `${mode} DEL (${which})`);
      if (i < 0) continue;
      s[`add${which}`].push(add.ms);
      s[`del${which}`].push(del.ms);
    }
  }
  const sum = (a: number[], b: number[]) => a.map((x, i) => x + b[i]!);
  const [addDel0, addDelN] = [median(sum(s.add0, s.del0)), median(sum(s.addN, s.delN))];
  const locked = (f: string, n: number) => stepMedians(f, n)['ADD:allocation-table-locked'] ?? NaN;
  return {
    mode,
    records,
    addDel0,
    addDelN,
    add0: median(s.add0),
    addN: median(s.addN),
    del0: median(s.del0),
    delN: median(s.delN),
    ratio: round(addDelN / addDel0),
    tableLocked0: locked(logs[0]!, from[0]!),
    tableLockedN: locked(logs[1]!, from[1]!),
  };
}

async function main(): Promise<void> {
  if (!existsSync(PLUGIN)) throw new Error('run npm run build first');
  const net = newTestNet('bs');
  const pairs: PairResult[] = [];
  const once: Record<string, number> = {};
  let parallel: { records: number; add: { ms: number; failures: string[] }; del: { ms: number; failures: string[] } } | undefined;
  try {
    for (const mode of ['allocator', 'static'] as const) {
      const conf0 = confFor(net, mode, join(net.dir, `${mode}-empty`), join(net.dir, `${mode}-empty.log`));
      const confN = confFor(net, mode, join(net.dir, `${mode}-full`), join(net.dir, `${mode}-full.log`));
      let have = 0;
      for (const n of SIZES) {
        seed(net, confN, have, n, `${mode}${n}`);
        have = n;
        pairs.push(interleaved(net, mode, conf0, confN, n));
      }
      // GC with every record valid (the usual case: all attachments live), and list.
      const key = net.attachment();
      const valid = listValid(String(confN.dataDir));
      const gc = must(run(cniEnv('GC', key), { ...confN, cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid }), `${mode} GC`);
      once[`${mode}_GC_${have}_ms`] = round(gc.ms);
      const list = must(run({}, {}, ['list', '--json', '--data-dir', String(confN.dataDir)]), 'list');
      const rows = JSON.parse(list.stdout).attachments.length;
      if (rows !== have) throw new Error(`list shows ${rows} attachments, expected ${have}`);
      once[`${mode}_list_json_${have}_ms`] = round(list.ms);
    }

    // 24 ADDs at once, then their DELs, with 4000 other records (allocator mode).
    const confP = confFor(net, 'allocator', join(net.dir, 'parallel'), join(net.dir, 'parallel.log'));
    seed(net, confP, 0, PARALLEL_RECORDS, 'par');
    const par = Array.from({ length: PARALLEL }, () => net.attachment());
    const add = await wall(par.map((a) => () => runAsync(cniEnv('ADD', a), confP)));
    const del = await wall(par.map((a) => () => runAsync(cniEnv('DEL', a), confP)));
    parallel = { records: PARALLEL_RECORDS, add, del };
  } finally {
    net.cleanup();
  }

  const at = (mode: Mode, n: number) => pairs.find((p) => p.mode === mode && p.records === n)!;
  const targets = {
    'allocator: ADD+DEL with 5000 records <= 1.10 x with none': at('allocator', 5000).ratio <= 1.1,
    'static mapping: ADD+DEL with 5000 records <= 1.10 x with none': at('static', 5000).ratio <= 1.1,
    [`${PARALLEL} parallel ADDs + DELs with ${PARALLEL_RECORDS} records: 0 failures`]: parallel.add.failures.length + parallel.del.failures.length === 0,
    'GC with 5000 records < 1 s (allocator and static)': once.allocator_GC_5000_ms! < 1000 && once.static_GC_5000_ms! < 1000,
    'list --json with 5000 records < 1 s': once.allocator_list_json_5000_ms! < 1000 && once.static_list_json_5000_ms! < 1000,
  };

  console.log(`\nscale: ${ROUNDS} interleaved rounds (after ${WARMUP} warm-up), load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
  console.log(['mode', 'records', 'ADD+DEL 0', 'ADD+DEL N', 'ratio', 'ADD 0', 'ADD N', 'DEL 0', 'DEL N', 'table lock 0', 'table lock N'].map((h, i) => (i < 2 ? h.padEnd(10) : h.padStart(13))).join(''));
  for (const p of pairs) {
    console.log([p.mode, p.records, p.addDel0, p.addDelN, p.ratio, p.add0, p.addN, p.del0, p.delN, p.tableLocked0, p.tableLockedN].map((v, i) => (i < 2 ? String(v).padEnd(10) : String(v).padStart(13))).join(''));
  }
  console.log(`(ms, medians; "table lock" = how long an ADD held the allocation table lock)`);
  console.log(`\nparallel x${PARALLEL} with ${parallel.records} records: ADD ${parallel.add.ms} ms wall, ${parallel.add.failures.length} failures; DEL ${parallel.del.ms} ms wall, ${parallel.del.failures.length} failures`);
  for (const f of [...parallel.add.failures, ...parallel.del.failures].slice(0, 3)) console.log(`  failure: ${f}`);
  for (const [k, v] of Object.entries(once)) console.log(`${k}: ${v}`);
  for (const [t, ok] of Object.entries(targets)) console.log(`${ok ? 'ok  ' : 'MISS'} ${t}`);
  console.log('\n' + JSON.stringify({ rounds: ROUNDS, pairs, parallel: { records: parallel.records, addMs: parallel.add.ms, delMs: parallel.del.ms, failures: parallel.add.failures.length + parallel.del.failures.length }, once, targets }));
  if (Object.values(targets).some((ok) => !ok)) process.exitCode = 1;
}

/** Every attachment of a data dir as cni.dev/valid-attachments (from the record names). */
function listValid(dataDir: string): Array<{ containerID: string; ifname: string }> {
  return readdirSync(join(dataDir, 'records'))
    .filter((n) => n.endsWith('.json'))
    .map((n) => {
      const [, containerId, ifname] = n.slice(0, -'.json'.length).split('+').map(decodeURIComponent);
      return { containerID: containerId!, ifname: ifname! };
    });
}

await main();
