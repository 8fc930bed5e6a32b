// Runs the built plugin the way a runtime does: env + config on stdin, one JSON on stdout.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname, '..', '..');
/** The artifacts `npm run build` writes, by the name USERNS_NETNS_TEST_PLUGIN selects them with. */
export const ARTIFACTS = {
  /** The self-contained executable for this machine (amd64): what install.sh installs by default. */
  sea: join(REPO, 'dist', 'userns-netns-linux-amd64'),
  /** The Node-script file (needs Node 20 on PATH). */
  script: join(REPO, 'dist', 'userns-netns'),
} as const;
const selected = process.env.USERNS_NETNS_TEST_PLUGIN ?? 'sea';
if (!(selected in ARTIFACTS)) throw new Error(`USERNS_NETNS_TEST_PLUGIN=${selected}: expected ${Object.keys(ARTIFACTS).join(' or ')}`);
/** The plugin under test: the self-contained amd64 file unless USERNS_NETNS_TEST_PLUGIN=script. */
export const PLUGIN: string = ARTIFACTS[selected as keyof typeof ARTIFACTS];
export const CNI_BIN = '/usr/lib/cni';

/**
 * Stryker's active mutant (npm run mutate, build/mutation/run-for-mutant.ts): the bundle has every
 * mutant compiled in and switched by this variable, so a test's plugin process must see it.
 */
export function mutantEnv(): Record<string, string> {
  const id = process.env.__STRYKER_ACTIVE_MUTANT__;
  return id ? { __STRYKER_ACTIVE_MUTANT__: id } : {};
}

export interface PluginRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON, or undefined when empty / not JSON. */
  json: any;
}

export function runPlugin(env: Record<string, string | undefined>, stdin: string | Buffer | object = '', opts: { plugin?: string; timeoutMs?: number } = {}): PluginRun {
  if (!existsSync(opts.plugin ?? PLUGIN)) throw new Error(`${PLUGIN} missing: run npm run build`);
  const input = typeof stdin === 'string' || Buffer.isBuffer(stdin) ? stdin : JSON.stringify(stdin);
  const fullEnv: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...mutantEnv() };
  // Set by test/helper/helpers/e2e-through-helper.ts: the same e2e tests, relayed to a resident helper.
  if (process.env.USERNS_NETNS_HELPER_SOCKET) fullEnv.USERNS_NETNS_HELPER_SOCKET = process.env.USERNS_NETNS_HELPER_SOCKET;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) fullEnv[k] = v;
  const r = spawnSync(opts.plugin ?? PLUGIN, [], { env: fullEnv, input, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: parseJson(r.stdout) };
}

/** The same, not waiting: for runs that must overlap (races, parallel ADDs). */
export function runPluginAsync(env: Record<string, string | undefined>, stdin: string | object = ''): Promise<PluginRun> {
  const fullEnv: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...mutantEnv() };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) fullEnv[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(PLUGIN, [], { env: fullEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, json: parseJson(stdout) }));
    child.stdin.end(typeof stdin === 'string' ? stdin : JSON.stringify(stdin));
  });
}

function parseJson(stdout: string): any {
  try {
    return stdout.trim() ? JSON.parse(stdout) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Did a failpoint's SIGKILL end this call? In-process the plugin died (no status). Relayed to a
 * resident helper (test/helper/helpers/e2e-through-helper.ts) the helper died, and the shim
 * answered 11 rather than run the call again.
 */
export function killedByFailpoint(r: PluginRun): boolean {
  return process.env.USERNS_NETNS_HELPER_SOCKET ? r.status === 1 && r.json?.code === 11 : r.status === null;
}
