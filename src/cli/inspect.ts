// `userns-netns inspect`: the full record(s) of an attachment plus a live check, from the
// files and the kernel alone, so a restarted runtime (or a person) gets the IPs back.
import type { InspectOutput } from '../generated/types';
import { parseArgs } from './args';
import { usageError } from './fail';
import { ipsOf, mappingSummary } from './format';
import { verify } from '../attachment/verify';
import { findRecords } from './records';

/** Exit status when a matching attachment is not live: distinct from errors (1) and usage (2). */
export const NOT_LIVE = 3;

export async function cmdInspect(argv: string[], out: (s: string) => void): Promise<number> {
  const a = parseArgs(argv, { json: true });
  if (a.positionals.length !== 1) throw usageError('inspect needs exactly one container id or netns path');
  const hits = findRecords(a.dataDir, a.positionals[0]!).map((f) => ({ record: f.record, check: verify(f.record) }));
  const allLive = hits.every((h) => h.check.live);
  if (a.json) {
    const doc: InspectOutput = { schema: 'userns-netns.inspect/v1', dataDir: a.dataDir, attachments: hits };
    out(`${JSON.stringify(doc, null, 2)}\n`);
    return allLive ? 0 : NOT_LIVE;
  }
  for (const { record: r, check: c } of hits) {
    out(`${r.network} ${r.containerId} ${r.ifname}\n`);
    out(`  mode ${r.mode}, phase ${r.phase}, cniVersion ${r.cniVersion}, created ${r.createdAt}\n`);
    out(`  ips      ${ipsOf(r).join(' ') || '-'}\n`);
    for (const ip of r.result?.ips ?? []) if (ip.gateway) out(`  gateway  ${ip.gateway} (for ${ip.address})\n`);
    out(`  netns    ${r.netns.path} inode ${r.netns.inode ?? '-'} (${r.netns.pin})\n`);
    out(`  userns   ${r.userns.path || '-'} inode ${r.userns.inode ?? '-'}${r.userns.hostOwned ? ' (host)' : ''} (${r.userns.pin})\n`);
    out(`  uidmap   ${mappingSummary(r.mappings?.uidMappings)}  gidmap ${mappingSummary(r.mappings?.gidMappings)}\n`);
    out(`  delegates ${r.delegates.map((d) => `${d.type}(${d.state})`).join(' ') || '-'}\n`);
    out(`  live     ${c.live ? 'yes' : 'no'}${c.problems.map((p) => `\n    - ${p}`).join('')}\n`);
  }
  return allLive ? 0 : NOT_LIVE;
}
