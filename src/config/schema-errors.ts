// Turns a validator's first error into one sentence that names the key path and the bad value,
// e.g. `delegates[1].type: must be a string without "/" (got "../x")`.
import { show } from '../cni/errors';
import type { ValidationError } from './validator-types';

/** "/delegates/1/type" -> "delegates[1].type" */
export function keyPath(instancePath: string, prefix = ''): string {
  let out = prefix;
  for (const raw of instancePath.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

export function describeError(e: ValidationError, prefix = ''): string {
  const at = (extra?: string) => {
    const p = keyPath(e.instancePath, prefix);
    const full = extra === undefined ? p : p === '' ? extra : `${p}.${extra}`;
    return full === '' ? '(top level)' : full;
  };
  const custom = e.parentSchema?.['x-message'];
  switch (e.keyword) {
    case 'required':
      return `${at(String(e.params.missingProperty))}: required key missing`;
    case 'additionalProperties':
      return `${at(String(e.params.additionalProperty))}: unknown key`;
    case 'enum':
      return `${at()}: must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')} (got ${show(e.data)})`;
    case 'const':
      return `${at()}: must be ${JSON.stringify(e.params.allowedValue)} (got ${show(e.data)})`;
    default:
      return `${at()}: ${typeof custom === 'string' ? custom : (e.message ?? 'is invalid')} (got ${show(e.data)})`;
  }
}
