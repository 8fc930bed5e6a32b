// The sysctls a pod's netns gets before its delegates run: the config's `sysctls`, and - for a
// netns owned by the pod's user namespace (created by us, or adopted from a runtime with its
// maps recorded) - net.ipv4.ping_group_range set to the pod's mapped gid range, as CRI-O sets
// it (containerd drops it; a range outside the mapping is EINVAL in the pod), unless
// `pingGroupRange` is "unchanged". An explicit ping_group_range is in pod gids and wins.
// Not journalled: a sysctl lives and dies with its netns. (In adopt mode the netns is the
// runtime's: what we set there stays after our DEL.)
import type { PluginConfig } from '../config/netconf';
import type { AttachmentRecord } from '../generated/types';
import { PING_GROUP_RANGE, applySysctls, inHostIds, pingGroupRangeFor, type SysctlSetting } from '../ns/sysctls';
import type { AttachmentContext } from './context';

export function podSysctls(conf: PluginConfig, rec: AttachmentRecord): SysctlSetting[] {
  const m = rec.userns.hostOwned === false ? rec.mappings : undefined;
  const gids = m ? (m.gidMappings ?? m.uidMappings) : undefined;
  const settings = conf.sysctls.map((s) => inHostIds(s, gids));
  if (gids && conf.pingGroupRange === 'mapped' && !settings.some((s) => s.key === PING_GROUP_RANGE)) {
    const range = pingGroupRangeFor(gids);
    if (range !== undefined) settings.unshift({ key: PING_GROUP_RANGE, value: range });
  }
  return settings;
}

/** Sets them in the record's netns; the first failure (naming its key) fails the ADD. */
export function applyPodSysctls(ctx: AttachmentContext, rec: AttachmentRecord): void {
  const settings = podSysctls(ctx.inv.conf, rec);
  if (settings.length === 0) return;
  const end = ctx.log.step('sysctls');
  applySysctls(rec.netns.path, settings);
  end({ keys: settings.map((s) => s.key) });
}
