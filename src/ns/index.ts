// Namespace engine: a user namespace and a netns owned by it, created in the right order and
// pinned safely. See DESIGN.md section 2.
export { type IdMapRange, type IdMappings, validateMappings, formatMap, parseMap, MAX_MAP_RANGES } from './mappings';
export {
  type CreateOptions,
  type CreatedNamespaces,
  createPinnedNamespaces,
  hostUsernsInode,
  hostNetnsInode,
  defaultUsernsPin,
  DEFAULT_USERNS_DIR,
  HOLDER_SECONDS,
} from './create';
export { unpin, isLiveNetnsPin, ensurePinDir } from './pins';
export { type NsInspection, inspectNamespace, readUsernsMappings } from './inspect';
export { checkPreconditions, nsEnvironment } from './preconditions';
