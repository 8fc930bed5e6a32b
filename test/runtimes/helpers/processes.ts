// Finding the processes a runtime left behind (shims, conmon: reparented to init once their
// parent exits) by a unique path of ours in their command line, so a test ends them by pid and
// never touches anyone else's.
import { readdirSync, readFileSync } from 'node:fs';

/** Pids whose command line has an argument equal to `arg` (or, with `within`, containing it). */
export function pidsWithArg(arg: string, opts: { within?: boolean } = {}): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => (opts.within ? a.includes(arg) : a === arg))) out.push(Number(d));
    } catch {
      /* exited */
    }
  }
  return out;
}
