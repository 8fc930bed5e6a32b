// Child for the SIGKILL test: starts a creation, prints the helpers' pids, and SIGKILLs itself
// at the worst moment (netns helper's namespace opened, nothing pinned yet).
import { createPinnedNamespaces } from '../../src/ns/index';

const [netnsPin, usernsPin] = process.argv.slice(2) as [string, string];
const mappings = { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] };
void createPinnedNamespaces({
  mappings,
  netnsPin,
  usernsPin,
  holderSeconds: 1,
  testHooks: {
    afterUsernsHolderOpened: (pid) => {
      process.stdout.write(`userns ${pid}\n`);
    },
    afterHolderNsOpened: (pid) => {
      process.stdout.write(`netns ${pid}\n`, () => process.kill(process.pid, 'SIGKILL'));
      return new Promise<void>(() => {
        /* never resolves: we die here */
      });
    },
  },
});
