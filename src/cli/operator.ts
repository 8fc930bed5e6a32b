// What a person gets when running the plugin by hand (no CNI_COMMAND): the about text, and
// the operator commands (list, inspect, oci, exec) as they are added.
import { aboutText } from '../cni/about';

export async function runOperatorCli(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    process.stderr.write(aboutText());
    return 0;
  }
  process.stderr.write(`userns-netns: unknown command ${JSON.stringify(argv[0])}; run with --help\n`);
  return 2;
}
