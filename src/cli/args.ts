// Command-line parsing for the operator commands: a handful of flags, positionals, and `--`
// (everything after it is passed through untouched, for `exec`).
import { DEFAULTS } from '../config/netconf';
import { usageError } from './fail';

export interface ParsedArgs {
  dataDir: string;
  json: boolean;
  help: boolean;
  /** exec: enter a netns whose user namespaces were not all created by root. */
  allowForeignOwner: boolean;
  positionals: string[];
  /** Words after `--`, undefined when there was no `--`. */
  rest: string[] | undefined;
}

export function parseArgs(argv: string[], allowed: { json?: boolean; allowForeignOwner?: boolean } = {}): ParsedArgs {
  const out: ParsedArgs = { dataDir: DEFAULTS.dataDir, json: false, help: false, allowForeignOwner: false, positionals: [], rest: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.rest = argv.slice(i + 1);
      break;
    }
    if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--json' && allowed.json) out.json = true;
    else if (a === '--allow-foreign-owner' && allowed.allowForeignOwner) out.allowForeignOwner = true;
    else if (a === '--data-dir' || a.startsWith('--data-dir=')) {
      const v = a === '--data-dir' ? argv[++i] : a.slice('--data-dir='.length);
      if (!v) throw usageError('--data-dir needs a directory');
      if (!v.startsWith('/')) throw usageError(`--data-dir must be an absolute path, got ${JSON.stringify(v)}`);
      out.dataDir = v;
    } else if (a.startsWith('-') && a !== '-') throw usageError(`unknown option ${JSON.stringify(a)}`);
    else out.positionals.push(a);
  }
  return out;
}
