// Median cost of create+verify+pin of both namespaces, next to `unshare -U -n true` measured in
// the same run (kernel create+destroy through one exec). Usage: npm run bench:ns [-- N]
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createPinnedNamespaces, unpin } from '../../src/ns/index';

const N = Number(process.argv[2] ?? 40);
const dir = `/run/uxt-bench-${process.pid}`;
const mappings = { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] };

function stats(xs: number[]): { median: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, p90: s[Math.floor(s.length * 0.9)]! };
}

async function main(): Promise<void> {
  const ours: number[] = [];
  const execEngine: number[] = [];
  const base: number[] = [];
  try {
    for (let i = -3; i < N; i++) {
      // 3 warm-up rounds, interleaved with the baseline
      const netnsPin = `${dir}/netns/b${i}`;
      const usernsPin = `${dir}/userns/b${i}`;
      const t0 = performance.now();
      await createPinnedNamespaces({ mappings, netnsPin, usernsPin }); // default engine
      const t1 = performance.now();
      unpin(netnsPin);
      unpin(usernsPin);
      const t2 = performance.now();
      const r = spawnSync('unshare', ['-U', '-n', 'true']);
      const t3 = performance.now();
      if (r.status !== 0) throw new Error(`unshare -U -n true failed: ${r.stderr}`);
      const t4 = performance.now();
      await createPinnedNamespaces({ mappings, netnsPin, usernsPin, engine: 'exec' });
      const t5 = performance.now();
      unpin(netnsPin);
      unpin(usernsPin);
      if (i >= 0) {
        ours.push(t1 - t0);
        base.push(t3 - t2);
        execEngine.push(t5 - t4);
      }
    }
  } finally {
    for (const d of ['netns', 'userns']) spawnSync('umount', ['-l', `${dir}/${d}`]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const o = stats(ours);
  const b = stats(base);
  const x = stats(execEngine);
  console.log(`runs: ${N}`);
  console.log(`createPinnedNamespaces (create+verify+pin, both): median ${o.median.toFixed(2)} ms, p90 ${o.p90.toFixed(2)} ms`);
  console.log(`  same, engine 'exec' (nsenter/unshare helper):    median ${x.median.toFixed(2)} ms, p90 ${x.p90.toFixed(2)} ms`);
  console.log(`unshare -U -n true (spawnSync from node):         median ${b.median.toFixed(2)} ms, p90 ${b.p90.toFixed(2)} ms`);
  console.log(`ratio ours/unshare: ${(o.median / b.median).toFixed(2)}   target: median <= 10 ms -> ${o.median <= 10 ? 'MET' : 'NOT MET'}`);
}

await main();
