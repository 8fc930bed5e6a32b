// userns-netns: entry point. A CNI call (CNI_COMMAND set) is answered by src/commands/call.ts, the
// code the resident helper runs too; without CNI_COMMAND it is the operator CLI. Everything
// process-wide (stdout, exit status, NODE_OPTIONS) is done here, not in the call.
import { commandOf, type Command } from '../../src/cni/env';
import { writeAll } from '../../src/cni/output';
import { readStdin } from '../../src/cni/stdin';
import { errorAnswer, runCall, type CallAnswer } from '../../src/commands/call';
import { dropNodeOptions } from '../../src/sys/node-options';
import { performance } from '../../src/sys/clock';

declare global {
  // The stdin bytes the shim (src/helper/shim.ts) read before it fell back to the in-process path.
  var __USERNS_NETNS_STDIN__: Buffer | undefined;
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const marks = globalThis.__USERNS_NETNS_MARKS__;
  if (marks) marks.main = performance.now();
  // Nothing but our one JSON document may reach stdout, whatever a library prints.
  console.log = console.info = console.debug = console.error;

  let command: Command | undefined;
  let answer: CallAnswer | undefined;
  try {
    await dropNodeOptions();
    command = commandOf(env);
  } catch (err) {
    answer = errorAnswer(err, undefined);
  }
  if (!answer && command === undefined) {
    const { runOperatorCli } = await import('../../src/cli/operator');
    return await runOperatorCli(argv);
  }
  const prefix = globalThis.__USERNS_NETNS_STDIN__;
  answer ??= await runCall(command!, env, () => readStdin(0, undefined, prefix), marks);
  if (answer.stdout) writeAll(answer.stdout, 1);
  if (answer.stderr) process.stderr.write(answer.stderr);
  return answer.code;
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`userns-netns: ${String(err)}\n`);
    process.exit(1);
  },
);
