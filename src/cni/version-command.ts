// CNI_COMMAND=VERSION: answers in the version the caller asked for when we speak it.
import { parseJsonObject, readStdin } from './stdin';
import { SUPPORTED_VERSIONS, isSupported } from './versions';
import type { VersionAnswer } from '../generated/types';

export const LATEST_VERSION = '1.1.0';

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
