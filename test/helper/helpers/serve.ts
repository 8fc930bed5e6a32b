// A resident helper per test: `userns-netns serve` on a socket in the test's own temp dir (never
// /run/userns-netns), its log beside it, ended by pid. Plus the plugin run in the background.
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLUGIN } from '../../helpers/plugin';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Helper {
  dir: string;
  socket: string;
  /** The env a plugin call needs to find this helper. */
  env: { USERNS_NETNS_HELPER_SOCKET: string };
  proc: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The helper's own JSON lines (serve --log). */
  log(): Array<Record<string, any>>;
  stderr(): string;
}

function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

export async function startHelper(opts: { plugin?: string; dir?: string } = {}): Promise<Helper> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'uxn-helper-'));
  const socket = join(dir, 'run', 'helper.sock');
  const logFile = join(dir, 'helper.log');
  const proc = spawn(opts.plugin ?? PLUGIN, ['serve', '--socket', socket, '--log', logFile], { env: { PATH: process.env.PATH! }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  let gone = false;
  void exited.then(() => (gone = true));
  const helper: Helper = {
    dir,
    socket,
    env: { USERNS_NETNS_HELPER_SOCKET: socket },
    proc,
    exited,
    log: () => {
      try {
        return readFileSync(logFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l));
      } catch {
        return [];
      }
    },
    stderr: () => stderr,
  };
  for (let i = 0; i < 200 && !gone; i++) {
    if (isSocket(socket) && helper.log().some((l) => l.event === 'start' && l.pid === proc.pid)) return helper;
    await sleep(25);
  }
  stopHelper(helper);
  throw new Error(`helper did not start: ${stderr}`);
}

/** SIGKILL by pid (if still running) and its temp dir removed. */
export function stopHelper(h: Helper): void {
  if (h.proc.exitCode === null && h.proc.signalCode === null) h.proc.kill('SIGKILL');
  rmSync(h.dir, { recursive: true, force: true });
}

export async function withHelper(fn: (h: Helper) => Promise<void>, opts: { plugin?: string } = {}): Promise<void> {
  const h = await startHelper(opts);
  try {
    await fn(h);
  } finally {
    stopHelper(h);
    await h.exited;
  }
}

export interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The plugin in the background, as a runtime runs it. */
export function runAsync(env: Record<string, string>, stdin: object | string, opts: { plugin?: string; argv0?: string[] } = {}): { pid: number; done: Promise<Done> } {
  const [cmd, ...args] = opts.argv0 ? [...opts.argv0, opts.plugin ?? PLUGIN] : [opts.plugin ?? PLUGIN];
  const child = spawn(cmd!, args, { env: { PATH: process.env.PATH!, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(typeof stdin === 'string' ? stdin : JSON.stringify(stdin));
  const done = new Promise<Done>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return { pid: child.pid!, done };
}

/** The helper's 'call' lines: proof that a call went through it. */
export function calls(h: Helper): Array<Record<string, any>> {
  return h.log().filter((l) => l.event === 'call');
}
