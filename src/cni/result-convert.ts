// Converting a CNI result between the spec versions we speak. Delegates answer in the
// version we handed them (Debian's plugins stop at 1.0.0); the caller wants the config's.
//
// The shapes differ only a little:
//   0.3.0 / 0.3.1 / 0.4.0  ips[].version ("4"/"6") is required; interfaces {name, mac, sandbox};
//                          routes {dst, gw}
//   1.0.0                  ips[].version is gone; otherwise as above
//   1.1.0                  interfaces add mtu, socketPath, pciID; routes add mtu, advmss,
//                          priority, table, scope
// Each target keeps exactly the fields its version knows (what Go's typed structs do when a
// result is re-encoded), so a lower version never sees a field it cannot parse.
// Pure: the input is never modified, the output shares no objects with it.

import { isIP } from 'node:net';
import { CniError, ErrorCode, show } from './errors';
import { compareVersions, isSupported } from './versions';

type Json = Record<string, unknown>;

interface Shape {
  interface: readonly string[];
  ip: readonly string[];
  route: readonly string[];
  needsIpVersion: boolean;
}

const DNS_KEYS = ['nameservers', 'domain', 'search', 'options'] as const;

const LEGACY: Shape = {
  interface: ['name', 'mac', 'sandbox'],
  ip: ['version', 'interface', 'address', 'gateway'],
  route: ['dst', 'gw'],
  needsIpVersion: true,
};
const V1_0: Shape = {
  interface: ['name', 'mac', 'sandbox'],
  ip: ['interface', 'address', 'gateway'],
  route: ['dst', 'gw'],
  needsIpVersion: false,
};
const V1_1: Shape = {
  interface: ['name', 'mac', 'mtu', 'sandbox', 'socketPath', 'pciID'],
  ip: ['interface', 'address', 'gateway'],
  route: ['dst', 'gw', 'mtu', 'advmss', 'priority', 'table', 'scope'],
  needsIpVersion: false,
};

function shapeOf(version: string): Shape {
  if (compareVersions(version, '1.0.0') < 0) return LEGACY;
  if (compareVersions(version, '1.1.0') < 0) return V1_0;
  return V1_1;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function decodeError(path: string, what: string, value: unknown): CniError {
  return new CniError(ErrorCode.DecodeFailure, `result ${path}: ${what}, got ${show(value)}`);
}

function pick(src: Json, keys: readonly string[]): Json {
  const out: Json = {};
  for (const k of keys) if (src[k] !== undefined) out[k] = structuredClone(src[k]);
  return out;
}

function objectList(result: Json, key: string): Json[] | undefined {
  const list = result[key];
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) throw decodeError(key, 'must be an array', list);
  list.forEach((item, i) => {
    if (!isObject(item)) throw decodeError(`${key}[${i}]`, 'must be an object', item);
  });
  return list as Json[];
}

/**
 * "4" or "6" for a CIDR address. An IPv4-mapped IPv6 address counts as "4", as in Go's
 * `IP.To4() != nil`, so Go consumers and we agree on the same input.
 */
function ipVersion(address: unknown, path: string): '4' | '6' {
  const slash = typeof address === 'string' ? address.lastIndexOf('/') : -1;
  const ip = slash > 0 ? (address as string).slice(0, slash) : '';
  const family = isIP(ip);
  if (family === 0) throw decodeError(path, 'must be an address in CIDR form', address);
  if (family === 4 || /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip)) return '4';
  return '6';
}

/**
 * The same result expressed in CNI version `toVersion`. The source version is the
 * result's own `cniVersion`. Throws CniError code 1 for a version we do not speak and
 * code 6 for a result that is not shaped like one.
 */
export function convertResult(result: unknown, toVersion: string): Json {
  if (!isObject(result)) throw decodeError('', 'must be a JSON object', result);
  const from = result.cniVersion;
  if (!isSupported(from)) {
    throw new CniError(ErrorCode.IncompatibleVersion, `cannot convert a result of CNI version ${show(from)}: unsupported`);
  }
  if (!isSupported(toVersion)) {
    throw new CniError(ErrorCode.IncompatibleVersion, `cannot convert a result to CNI version ${show(toVersion)}: unsupported`);
  }
  const shape = shapeOf(toVersion);
  const out: Json = { cniVersion: toVersion };

  const interfaces = objectList(result, 'interfaces');
  if (interfaces) out.interfaces = interfaces.map((it) => pick(it, shape.interface));

  const ips = objectList(result, 'ips');
  if (ips) {
    out.ips = ips.map((ip, i) => {
      const copy = pick(ip, shape.ip);
      // Derived from the address, never trusted from the input: the address is the truth.
      if (shape.needsIpVersion) copy.version = ipVersion(ip.address, `ips[${i}].address`);
      return copy;
    });
  }

  const routes = objectList(result, 'routes');
  if (routes) out.routes = routes.map((r) => pick(r, shape.route));

  if (result.dns !== undefined && result.dns !== null) {
    if (!isObject(result.dns)) throw decodeError('dns', 'must be an object', result.dns);
    out.dns = pick(result.dns, DNS_KEYS);
  }
  return out;
}
