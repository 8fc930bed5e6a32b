// Small formatting helpers shared by list and inspect.
import type { AttachmentRecord, IdMapRange } from '../generated/types';

export function ipsOf(r: AttachmentRecord): string[] {
  return (r.result?.ips ?? []).map((ip) => ip.address);
}

export function ageSeconds(r: AttachmentRecord, now = Date.now()): number {
  const t = Date.parse(r.createdAt);
  return Number.isFinite(t) ? Math.max(0, Math.round((now - t) / 1000)) : 0;
}

export function humanAge(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** "0:100000:65536" for the first range, "+N" when there are more. */
export function mappingSummary(ranges: IdMapRange[] | undefined): string {
  if (!ranges || ranges.length === 0) return '-';
  const r = ranges[0]!;
  return `${r.containerID}:${r.hostID}:${r.size}${ranges.length > 1 ? `+${ranges.length - 1}` : ''}`;
}

/** Left-aligned columns, two spaces apart. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n') + '\n';
}
