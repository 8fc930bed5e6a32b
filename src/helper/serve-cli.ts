// The operator command line of `serve`.
import { usageError } from '../cli/fail';
import { socketPath } from './protocol';
import { serve } from './serve';

export async function cmdServe(argv: string[], err: (s: string) => void): Promise<number> {
  let socket = socketPath(process.env);
  let log: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (name: string) => {
      const v = a === name ? argv[++i] : a.slice(name.length + 1);
      if (!v?.startsWith('/')) throw usageError(`${name} needs an absolute path`);
      return v;
    };
    if (a === '--socket' || a.startsWith('--socket=')) socket = value('--socket');
    else if (a === '--log' || a.startsWith('--log=')) log = value('--log');
    else throw usageError(`unknown argument ${JSON.stringify(a)}`);
  }
  return serve({ socket, log }, err);
}
