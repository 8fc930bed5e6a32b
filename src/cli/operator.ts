// What a person gets when running the plugin by hand (no CNI_COMMAND): the about text, and
// the operator commands list, inspect, oci, exec. Each command is loaded lazily, like the
// CNI verbs. Errors are one line on stderr; usage errors exit 2, failures 1.
import { aboutText } from '../cni/about';
import { writeAll } from '../cni/output';
import { OperatorError } from './fail';
import { HELP, mainHelp } from './help';

type Out = (s: string) => void;
type Cmd = (argv: string[], out: Out, err: Out) => Promise<number>;

const commands: Record<string, Cmd> = {
  list: async (argv, out) => (await import('./list')).cmdList(argv, out),
  inspect: async (argv, out) => (await import('./inspect')).cmdInspect(argv, out),
  oci: async (argv, out, err) => (await import('./oci')).cmdOci(argv, out, err),
  exec: async (argv) => (await import('./exec')).cmdExec(argv),
  serve: async (argv, _out, err) => (await import('../helper/serve-cli')).cmdServe(argv, err),
};

/** `--help` anywhere before `--` asks for help (after `--` it belongs to exec's command). */
function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

export async function runOperatorCli(argv: string[]): Promise<number> {
  // Synchronous: main exits right after, and `list --json` of thousands of records is megabytes.
  const out: Out = (s) => writeAll(s, 1);
  const err: Out = (s) => writeAll(s, 2);
  if (argv.length === 0) {
    err(aboutText()); // what Go plugins print when run by hand
    return 0;
  }
  const [name, ...rest] = argv as [string, ...string[]];
  if (name === '--help' || name === '-h' || name === 'help') {
    out(mainHelp());
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    err(`userns-netns: unknown command ${JSON.stringify(name)}; run with --help\n`);
    return 2;
  }
  if (wantsHelp(rest)) {
    out(HELP[name]!);
    return 0;
  }
  try {
    return await cmd(rest, out, err);
  } catch (e) {
    const code = e instanceof OperatorError ? e.exitCode : 1;
    err(`userns-netns ${name}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}\n`);
    return code;
  }
}
