// STATUS (CNI 1.1.0): can this plugin serve ADD right now? ADD's own preflight plan
// (attachment/preflight.ts), run for every target the config allows, plus what only a live
// probe shows: a writable data dir, and each 1.1.0 delegate's own STATUS. All problems are
// reported together with code 50. What it writes: the data dir (0700) if missing, a probe file
// there (removed at once), each delegate's VERSION answer in <dataDir>/version-cache/, the log
// line, and (as every call) the addon and code caches.
import { CniError, ErrorCode, asCniError, combineErrors } from '../cni/errors';
import type { Invocation } from '../config/invocation';
import { createLogger, startFields } from '../log/logger';
import { ensurePrivateDir, removeFileDurable, writeFileAtomic } from '../state/atomic-file';
import { delegateCallFor, prepareDelegate, runDelegate } from '../attachment/delegate-runner';
import { addPlan, planProblems } from '../attachment/preflight';

function checkDataDir(dataDir: string): CniError | undefined {
  try {
    ensurePrivateDir(dataDir);
    const probe = `.status-${process.pid}`;
    writeFileAtomic(dataDir, probe, 'ok');
    removeFileDurable(dataDir, probe);
    return undefined;
  } catch (err) {
    return new CniError(ErrorCode.IoFailure, `data directory ${dataDir} is not writable: ${(err as Error).message}`, { cause: err });
  }
}

const labelled = (label: string | undefined, e: CniError): CniError => (label ? new CniError(e.code, `${label}: ${e.message}`, { details: e.details, cause: e }) : e);

export async function cmdStatus(inv: Invocation<'STATUS'>): Promise<undefined> {
  const log = createLogger({ file: inv.conf.logFile, level: inv.conf.logLevel, command: 'STATUS' });
  log.info('start', startFields());
  const problems: CniError[] = [];
  const dataDir = checkDataDir(inv.conf.dataDir);
  if (dataDir) problems.push(dataDir);

  const call = delegateCallFor(inv, log); // for the network: no attachment
  const planned = planProblems(addPlan({ conf: inv.conf, env: inv.env, cniPath: call.cniPath, target: 'any' }));
  for (const { step, error } of planned) problems.push(labelled(step.label, error));

  // Delegates whose binary is there: their VERSION, and STATUS from those that speak 1.1.0.
  const missing = new Set(planned.map(({ step }) => step.delegate).filter((i) => i !== undefined));
  for (const [i, delegate] of inv.conf.delegates.entries()) {
    if (missing.has(i)) continue;
    try {
      const d = await prepareDelegate(call, delegate);
      if (d.cniVersion === '1.1.0') await runDelegate(call, 'STATUS', d, undefined);
    } catch (err) {
      problems.push(labelled(`delegate ${JSON.stringify(String(delegate.type))}`, asCniError(err)));
    }
  }
  const failed = combineErrors(problems, { code: ErrorCode.PluginNotAvailable, heading: () => 'plugin not available' });
  if (failed) {
    log.error('status', { problems: problems.map((p) => p.message) });
    throw failed;
  }
  return undefined;
}
