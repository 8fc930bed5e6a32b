// Runs the built single file as a person would: no CNI_COMMAND, arguments on the command line.
import { validateOperatorOutput } from '../../../src/generated/validators';
import { spawnSync } from 'node:child_process';
import { PLUGIN } from '../../helpers/plugin';

export interface OpRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function op(args: string[]): OpRun {
  const r = spawnSync(PLUGIN, args, { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs and parses stdout as JSON, failing loudly with stderr when it does not exit 0. */
export function opJson(args: string[], expectStatus = 0): any {
  const r = op(args);
  if (r.status !== expectStatus) throw new Error(`${args.join(' ')}: exit ${r.status}, stderr: ${r.stderr}`);
  const doc = JSON.parse(r.stdout);
  // The documented, stable shape: every JSON the operator commands print matches the schema.
  if (!validateOperatorOutput(doc)) throw new Error(`${args.join(' ')}: output does not match operator-output.schema.json: ${JSON.stringify(validateOperatorOutput.errors?.[0])}`);
  return doc;
}
