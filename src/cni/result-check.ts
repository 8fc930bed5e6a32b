// A delegate's ADD result is untrusted input. Everything later steps do with it - hand it to
// the next delegate as prevResult in that delegate's version, answer it to the runtime in the
// config's version, give it back to every delegate's CHECK and DEL - must work for as long as
// the record lives, so it is checked once, here, when it arrives: a result we could not use
// later fails its ADD now (which rolls back), instead of making the attachment undeletable.
//
// What Go delegates and runtimes need to decode it (types040/types100/types110 in libcni):
// ips[].address and routes[].dst parse as CIDR (net.ParseCIDR), gateways and route gw as IPs
// (net.ParseIP, empty meaning none), lists are JSON arrays of objects, integers are integers.
import { isIP } from 'node:net';
import { describeError } from '../config/schema-errors';
import type { CniResult } from '../generated/types';
import { validateCniResult } from '../generated/validators';
import { convertResult } from './result-convert';
import { CniError, ErrorCode, show } from './errors';
import { SUPPORTED_VERSIONS, isSupported } from './versions';

/** Results are a few KiB; a larger one is a broken delegate, and it would go into every journal write. */
export const MAX_RESULT_BYTES = 1024 * 1024;

function problem(msg: string): CniError {
  return new CniError(ErrorCode.DecodeFailure, msg);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** 4 or 6 for a plain IP (no zone: Go's ParseIP refuses "fe80::1%eth0"), 0 otherwise. */
function ipFamily(s: string): 0 | 4 | 6 {
  return s.includes('%') ? 0 : (isIP(s) as 0 | 4 | 6);
}

function isCidr(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  const slash = v.indexOf('/');
  if (slash <= 0) return false;
  const family = ipFamily(v.slice(0, slash));
  const len = v.slice(slash + 1);
  return family !== 0 && /^\d{1,3}$/.test(len) && Number(len) <= (family === 4 ? 32 : 128);
}

/** Gateways may be empty (Go decodes "" as no gateway). */
function isIpOrEmpty(v: unknown): boolean {
  return v === undefined || v === '' || (typeof v === 'string' && ipFamily(v) !== 0);
}

function checkAddresses(r: CniResult): void {
  r.ips?.forEach((ip, i) => {
    if (!isCidr(ip.address)) throw problem(`ips[${i}].address: ${show(ip.address)} is not an address with a prefix (e.g. "10.0.0.5/24")`);
    if (!isIpOrEmpty(ip.gateway)) throw problem(`ips[${i}].gateway: ${show(ip.gateway)} is not an IP address`);
  });
  r.routes?.forEach((route, i) => {
    if (!isCidr(route.dst)) throw problem(`routes[${i}].dst: ${show(route.dst)} is not a destination with a prefix (e.g. "0.0.0.0/0")`);
    if (!isIpOrEmpty(route.gw)) throw problem(`routes[${i}].gw: ${show(route.gw)} is not an IP address`);
  });
}

/**
 * The result, checked (as given: conversion drops the fields a version does not know, so extra
 * keys never reach a consumer). Throws CniError code 6 whose message starts with the
 * offending field, e.g. `ips[0].address: "10.0.0.5" is not an address with a prefix ...`.
 */
export function checkResult(doc: unknown): CniResult {
  if (!isObject(doc)) throw problem(`must be a JSON object, got ${show(doc)}`);
  // Exit status 0 means success, but a document shaped like an error is not a result.
  if (doc.code !== undefined && doc.msg !== undefined) {
    throw problem(`is an error document (code ${show(doc.code)}, msg ${show(doc.msg)}) although the plugin exited with status 0`);
  }
  if (doc.cniVersion === undefined) throw problem('cniVersion: required key missing');
  if (!isSupported(doc.cniVersion)) {
    throw problem(`cniVersion: must be one of ${SUPPORTED_VERSIONS.map((v) => JSON.stringify(v)).join(', ')} (got ${show(doc.cniVersion)})`);
  }
  if (!validateCniResult(doc)) {
    const first = validateCniResult.errors?.[0];
    throw problem(first ? describeError(first) : 'not shaped like a CNI result');
  }
  const result = doc as unknown as CniResult;
  checkAddresses(result);
  // The proof that matters: it converts to every version a delegate or runtime may ask for.
  for (const v of SUPPORTED_VERSIONS) {
    try {
      convertResult(result, v);
    } catch (err) {
      throw problem(`cannot be converted to CNI version ${v}: ${(err as Error).message}`);
    }
  }
  return result;
}

/** A plugin's stdout for ADD: one JSON document that checkResult accepts. */
export function readResult(stdout: string): CniResult {
  const text = stdout.trim();
  if (text === '') throw problem('empty: the plugin printed no result');
  if (Buffer.byteLength(text) > MAX_RESULT_BYTES) {
    throw problem(`${Buffer.byteLength(text)} bytes, more than the ${MAX_RESULT_BYTES} a result may have`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    const clipped = text.length > 200 ? `${text.slice(0, 197)}...` : text;
    throw problem(`not JSON: ${show(clipped)}`);
  }
  return checkResult(doc);
}
