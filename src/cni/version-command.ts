// CNI_COMMAND=VERSION: answers in the version the caller asked for when we speak it.
import { parseJsonObject, readStdin } from './stdin';
import { SUPPORTED_VERSIONS, isSupported } from './versions';
import type { VersionAnswer } from '../generated/types';

export const LATEST_VERSION = '1.1.0';

/** The version errors are answered in: the caller's, when we can tell and speak it. */
export function answerVersion(stdin: Buffer | undefined): string {
  if (!stdin) return LATEST_VERSION;
  const m = /"cniVersion"\s*:\s*"([^"]*)"/.exec(stdin.toString('utf8'));
  return m && isSupported(m[1]) ? m[1]! : LATEST_VERSION;
}

export function versionAnswer(stdin: Buffer): VersionAnswer {
  let asked: unknown;
  if (stdin.length > 0 && stdin.toString().trim() !== '') asked = parseJsonObject(stdin).cniVersion;
  return {
    cniVersion: isSupported(asked) ? asked : LATEST_VERSION,
    supportedVersions: [...SUPPORTED_VERSIONS],
  };
}

export async function cmdVersion(): Promise<VersionAnswer> {
  return versionAnswer(await readStdin());
}
