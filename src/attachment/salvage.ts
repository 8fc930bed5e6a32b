// What a damaged record still says, read from its text: each namespace reference is a flat
// JSON object, so a truncated or partly overwritten file often keeps them whole.
import type { NamespaceRef } from '../generated/types';
import { readFileNoFollow } from '../state/atomic-file';

export interface Salvaged {
  /** Pin references (pin other than "none") still readable, with their namespace type. */
  pins: Array<[NamespaceRef, 'net' | 'user']>;
  bootId?: string;
  /** The netns path, pinned by us or not (adopt mode): the lock a teardown of its pins takes. */
  netnsPath?: string;
}

export function salvageRecord(file: string): Salvaged {
  let text: string;
  try {
    text = readFileNoFollow(file)?.toString('utf8') ?? '';
  } catch {
    return { pins: [] };
  }
  const out: Salvaged = { pins: [] };
  for (const [key, type] of [
    ['netns', 'net'],
    ['userns', 'user'],
  ] as const) {
    const m = new RegExp(`"${key}":(\\{[^{}]*\\})`).exec(text);
    if (!m) continue;
    try {
      const ref = JSON.parse(m[1]!) as NamespaceRef;
      if (type === 'net' && typeof ref.path === 'string' && ref.path.startsWith('/')) out.netnsPath = ref.path;
      if (typeof ref.path === 'string' && ref.path.startsWith('/') && ref.pin !== 'none') out.pins.push([ref, type]);
    } catch {
      // not even that part is readable
    }
  }
  const boot = /"bootId":"([0-9a-f-]{1,64})"/.exec(text);
  if (boot) out.bootId = boot[1];
  return out;
}
