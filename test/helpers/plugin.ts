// Runs the built single file the way a runtime does: env + config on stdin, one JSON on stdout.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname, '..', '..');
export const PLUGIN = join(REPO, 'dist', 'userns-netns');
export const CNI_BIN = '/usr/lib/cni';

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
  const fullEnv: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) fullEnv[k] = v;
  const r = spawnSync(opts.plugin ?? PLUGIN, [], { env: fullEnv, input, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000 });
  let json: any;
  try {
    json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json };
}
