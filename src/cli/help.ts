// Help texts. Kept next to each other so the wording stays consistent.
import { aboutText } from '../cni/about';
import { DEFAULTS } from '../config/netconf';

const DATA_DIR = `  --data-dir DIR   where the network's records live (its config's "dataDir"; default ${DEFAULTS.dataDir})`;

export const HELP: Record<string, string> = {
  list: `usage: userns-netns list [--json] [--data-dir DIR]

Lists every attachment recorded in DIR: network, container id, ifname, mode, phase, IPs,
netns pin, uid mapping, age, and whether its namespaces are still live.
  --json           one JSON document (schema "userns-netns.list/v1") on stdout
${DATA_DIR}
`,
  inspect: `usage: userns-netns inspect <container-id | netns path> [--json] [--data-dir DIR]

Prints the full attachment record(s) plus a live check: pins present, namespace inodes and
the netns owner as recorded, same boot. Works from the files alone (nothing in memory).
  --json           one JSON document (schema "userns-netns.inspect/v1") on stdout
${DATA_DIR}
Exit status 0 when every matching attachment is live, 3 when one is not.
`,
  oci: `usage: userns-netns oci <container-id | netns path> [--data-dir DIR]

Prints the OCI runtime-spec fragment a runtime must merge into config.json to join the
attachment: linux.namespaces entries for "user" and "network" with paths, and
linux.uidMappings/gidMappings read from the live user namespace (runc requires exactly them).
An adopted netns owned by the host user namespace gives only the "network" entry.
${DATA_DIR}
`,
  exec: `usage: userns-netns exec <netns path | container-id> [--data-dir DIR] [--allow-foreign-owner] -- CMD [ARGS...]

Runs CMD as root (uid 0, gid 0) inside the netns and the user namespace that owns it, like
"ip netns exec" (the mount namespace is the caller's). The exit status is CMD's (128+N when
killed by signal N). The user namespace is the netns's real owner, taken from the netns itself.
CMD gets stdin, stdout and stderr only: no other fd reaches it.
By container id, only a live attachment is entered (the check "inspect" makes: pins present,
namespace inodes and owner as recorded, same boot, phase ready).
By path, only a netns whose owning user namespace, and every one above it, root created.
  --allow-foreign-owner  enter one another user created anyway: that user holds every
                   capability over CMD there (ptrace), so CMD runs at their mercy
${DATA_DIR}
`,
  serve: `usage: userns-netns serve [--socket PATH] [--log FILE]

Runs the resident helper in the foreground: CNI calls of this same build, from root in this
host's network, mount and user namespaces, are relayed to it over a unix socket and answered
without starting the plugin's code afresh. Anything else runs in-process as without a helper.
SIGTERM: stop accepting, finish the calls in flight, exit 0. When its own file changes on disk
(an upgrade) it stops accepting and exits once idle.
  --socket PATH    default $USERNS_NETNS_HELPER_SOCKET or /run/userns-netns/helper.sock; its
                   directory is created 0700 and must be root's and private
  --log FILE       the helper's own JSON lines (one per call); calls still log to their
                   config's logFile as in-process
`,
};

export function mainHelp(): string {
  return `${aboutText()}
usage: userns-netns <command> [options]

Run by a CNI runtime (CNI_COMMAND set) it is a CNI plugin. Run by hand:
  list      list attachments and whether they are live
  inspect   full record of an attachment plus a live check
  oci       OCI runtime-spec fragment (namespaces + id mappings) to join an attachment
  exec      run a command as root inside an attachment's user namespace and netns
  serve     run the resident helper (faster CNI calls)

"userns-netns <command> --help" describes each command.
`;
}
