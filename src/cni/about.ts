// What a person sees when they run the plugin by hand (no CNI_COMMAND), like Go plugins' about line.
import { SUPPORTED_VERSIONS } from './versions';

declare const __PLUGIN_VERSION__: string | undefined;
export const PLUGIN_NAME = 'userns-netns';
export const PLUGIN_VERSION: string = typeof __PLUGIN_VERSION__ === 'string' ? __PLUGIN_VERSION__ : 'dev';

export function aboutText(): string {
  return `CNI ${PLUGIN_NAME} plugin version ${PLUGIN_VERSION}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\n`;
}
