// `userns-netns list`: one line (or one JSON object) per attachment in a data dir.
import type { ListOutput, ListRow } from '../generated/types';
import { parseArgs } from './args';
import { usageError } from './fail';
import { ageSeconds, humanAge, ipsOf, mappingSummary, table } from './format';
import { verify } from '../attachment/verify';
import { loadRecords } from './records';

export async function cmdList(argv: string[], out: (s: string) => void): Promise<number> {
  const a = parseArgs(argv, { json: true });
  if (a.positionals.length > 0) throw usageError(`list takes no arguments, got ${JSON.stringify(a.positionals[0])}`);
  const { records, corrupt } = loadRecords(a.dataDir);
  const now = Date.now();
  const rows = records.map(({ record: r }): ListRow => {
    const live = verify(r);
    return {
      network: r.network,
      containerId: r.containerId,
      ifname: r.ifname,
      mode: r.mode,
      phase: r.phase,
      ips: ipsOf(r),
      netns: r.netns.path,
      userns: r.userns.path,
      uidMappings: r.mappings?.uidMappings ?? null,
      gidMappings: r.mappings?.gidMappings ?? null,
      createdAt: r.createdAt,
      ageSeconds: ageSeconds(r, now),
      live: live.live,
    };
  });
  if (a.json) {
    const doc: ListOutput = { schema: 'userns-netns.list/v1', dataDir: a.dataDir, attachments: rows, corrupt };
    out(`${JSON.stringify(doc, null, 2)}\n`);
    return 0;
  }
  const lines = [['NETWORK', 'CONTAINER', 'IFNAME', 'MODE', 'PHASE', 'IPS', 'NETNS', 'UIDMAP', 'AGE', 'LIVE']];
  for (const r of rows) {
    lines.push([r.network, r.containerId, r.ifname, r.mode, r.phase, r.ips.join(',') || '-', r.netns, mappingSummary(r.uidMappings ?? undefined), humanAge(r.ageSeconds), r.live ? 'yes' : 'no']);
  }
  out(table(lines));
  for (const c of corrupt) out(`corrupt record ${c.file}: ${c.error}\n`);
  return 0;
}
