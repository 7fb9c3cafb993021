/**
 * The handshake: the source's HELLO, the destination's HELLO_ACK, their validators, and
 * negotiation. HELLO and HELLO_ACK bodies are UTF-8 JSON (they are sent once and carry nested,
 * open-ended data such as the guest's parameters); every field is type-checked on arrival.
 *
 * Validation failures (a body that is not a Hello) are LIVEMIG_E_WIRE_MALFORMED in phase
 * 'handshake'; well-formed but incompatible terms are LIVEMIG_E_VERSION_MISMATCH or
 * LIVEMIG_E_HANDSHAKE, with a message that says what differs and what to do.
 */

import { ERROR_CODES, LivemigError, type ErrorCode } from '../core/errors.js';
import type { GuestDescription, WorkloadName } from '../guest/types.js';
import {
  MAX_MAX_FRAME_BYTES, MIN_MAX_FRAME_BYTES, SUPPORTED_PROTOCOL_VERSIONS,
  type Hello, type HelloAck, type NegotiateLocal,
} from './types.js';

/** Workload names a Hello may carry (must list every WorkloadName: checked below at compile time). */
const WORKLOADS = ['idle', 'hotset', 'memstress', 'qemu-test', 'zipf', 'none'] as const satisfies readonly WorkloadName[];
// Compile-time exhaustiveness: fails to type-check if guest/types.ts gains a workload not listed here.
const _allWorkloads: Exclude<WorkloadName, (typeof WORKLOADS)[number]> extends never ? true : never = true;
void _allWorkloads;

const GUEST_KINDS = ['synthetic', 'image'] as const satisfies readonly GuestDescription['kind'][];

const NAME = /^[a-z0-9][a-z0-9.-]{0,63}$/;
const SESSION_ID = /^[\x21-\x7e]{1,128}$/;
const MAX_LIST = 64;
const MAX_PARAMS = 64;
const MAX_PARAM_STRING = 1024;
const MAX_REASON = 4096;

function bad(what: string, detail: string): LivemigError {
  return new LivemigError('LIVEMIG_E_WIRE_MALFORMED', `${what}: ${detail}`, { phase: 'handshake' });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(what, `expected an object, got ${describe(v)}`);
  return v as Record<string, unknown>;
}

function int(o: Record<string, unknown>, key: string, min: number, max: number, what: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(what, `field '${key}' must be an integer in ${min}..${max}, got ${describe(v)}`);
  }
  return v;
}

function str(o: Record<string, unknown>, key: string, pattern: RegExp, what: string): string {
  const v = o[key];
  if (typeof v !== 'string' || !pattern.test(v)) {
    throw bad(what, `field '${key}' must be a string matching ${pattern}, got ${describe(v)}`);
  }
  return v;
}

function bool(o: Record<string, unknown>, key: string, what: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw bad(what, `field '${key}' must be a boolean, got ${describe(v)}`);
  return v;
}

function names(o: Record<string, unknown>, key: string, what: string, minEntries: number): string[] {
  const v = o[key];
  if (!Array.isArray(v) || v.length < minEntries || v.length > MAX_LIST) {
    throw bad(what, `field '${key}' must be an array of ${minEntries}..${MAX_LIST} names, got ${describe(v)}`);
  }
  const seen = new Set<string>();
  for (const item of v) {
    if (typeof item !== 'string' || !NAME.test(item)) {
      throw bad(what, `field '${key}' holds ${describe(item)}, not a name matching ${NAME}`);
    }
    if (seen.has(item)) throw bad(what, `field '${key}' lists '${item}' twice`);
    seen.add(item);
  }
  return [...v] as string[];
}

function oneOf<T extends string>(o: Record<string, unknown>, key: string, allowed: readonly T[], what: string): T {
  const v = o[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw bad(what, `field '${key}' must be one of ${allowed.join(', ')}, got ${describe(v)}`);
  }
  return v as T;
}

function isPageSize(n: number): boolean {
  return (n & (n - 1)) === 0;
}

function validateGuest(v: unknown, pageSize: number): GuestDescription {
  const what = 'HELLO guest';
  const o = record(v, what);
  const kind = oneOf(o, 'kind', GUEST_KINDS, what);
  const workload = oneOf(o, 'workload', WORKLOADS, what);
  const guestPageSize = int(o, 'pageSize', 512, 65536, what);
  if (guestPageSize !== pageSize) throw bad(what, `pageSize ${guestPageSize} differs from the HELLO pageSize ${pageSize}`);
  const memoryBytes = int(o, 'memoryBytes', guestPageSize, Number.MAX_SAFE_INTEGER, what);
  if (memoryBytes % guestPageSize !== 0) throw bad(what, `memoryBytes ${memoryBytes} is not a multiple of pageSize ${guestPageSize}`);
  const rawParams = record(o.params, `${what} params`);
  const keys = Object.keys(rawParams);
  if (keys.length > MAX_PARAMS) throw bad(what, `params has ${keys.length} keys, at most ${MAX_PARAMS} allowed`);
  const params: Record<string, number | string> = {};
  for (const key of keys) {
    const value = rawParams[key];
    const ok = (typeof value === 'number' && Number.isFinite(value))
      || (typeof value === 'string' && value.length <= MAX_PARAM_STRING);
    if (key.length === 0 || key.length > 64 || !ok) {
      throw bad(what, `param '${key.slice(0, 64)}' must map to a finite number or a string of at most ${MAX_PARAM_STRING} characters, got ${describe(value)}`);
    }
    // defineProperty: a key such as '__proto__' stays an ordinary own property.
    Object.defineProperty(params, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return { kind, workload, memoryBytes, pageSize: guestPageSize, params };
}

/**
 * Checks that `value` (a parsed HELLO body) is a Hello and returns a clean copy holding only the
 * known fields. Keys this version does not know are ignored (see the versioning policy in
 * PROTOCOL.md). Throws LIVEMIG_E_WIRE_MALFORMED naming the first bad field.
 */
export function validateHello(value: unknown): Hello {
  const what = 'HELLO';
  const o = record(value, what);
  // First, so that a newer peer's hello is at least read far enough to report the version.
  const protocolVersion = int(o, 'protocolVersion', 1, 255, what);
  const sessionId = str(o, 'sessionId', SESSION_ID, what);
  const codecs = names(o, 'codecs', what, 1);
  const pageSize = int(o, 'pageSize', 512, 65536, what);
  if (!isPageSize(pageSize)) throw bad(what, `pageSize ${pageSize} is not a power of two`);
  const guest = validateGuest(o.guest, pageSize);
  const transport = str(o, 'transport', NAME, what);
  const maxFrameBytes = int(o, 'maxFrameBytes', MIN_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES, what);
  const features = names(o, 'features', what, 0);
  return { protocolVersion, sessionId, codecs, pageSize, guest, transport, maxFrameBytes, features };
}

/**
 * Checks that `value` (a parsed HELLO_ACK body) is a HelloAck and returns a clean copy. A refusal
 * must carry a `reason`. Throws LIVEMIG_E_WIRE_MALFORMED naming the first bad field.
 */
export function validateHelloAck(value: unknown): HelloAck {
  const what = 'HELLO_ACK';
  const o = record(value, what);
  const accepted = bool(o, 'accepted', what);
  const codecs = names(o, 'codecs', what, accepted ? 1 : 0);
  const maxFrameBytes = int(o, 'maxFrameBytes', MIN_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES, what);
  const ack: HelloAck = { accepted, codecs, maxFrameBytes };
  if (o.reason !== undefined || !accepted) {
    const reason = o.reason;
    if (typeof reason !== 'string' || reason.length === 0 || reason.length > MAX_REASON) {
      throw bad(what, `field 'reason' must be a string of 1..${MAX_REASON} characters${accepted ? '' : ' when the migration is refused'}, got ${describe(reason)}`);
    }
    ack.reason = reason;
  }
  if (o.features !== undefined) ack.features = names(o, 'features', what, 0);
  if (o.code !== undefined) {
    if (typeof o.code !== 'string' || !Object.hasOwn(ERROR_CODES, o.code)) {
      throw bad(what, `field 'code' must be a known LIVEMIG_E_* code, got ${describe(o.code)}`);
    }
    ack.code = o.code as ErrorCode;
  }
  return ack;
}

function list(items: readonly string[]): string {
  return items.length === 0 ? '(none)' : items.join(', ');
}

/**
 * The destination's decision on a validated Hello: the agreed terms, or a LivemigError saying what
 * differs (LIVEMIG_E_VERSION_MISMATCH for the protocol version, LIVEMIG_E_HANDSHAKE otherwise).
 * Turn the error into a refusal for the source with `refusalAck`.
 */
export function negotiate(hello: Hello, local: NegotiateLocal): HelloAck {
  const versions = local.protocolVersions.length > 0 ? local.protocolVersions : SUPPORTED_PROTOCOL_VERSIONS;
  if (!versions.includes(hello.protocolVersion)) {
    const newest = Math.max(...versions);
    const ours = versions.length === 1 ? `${newest}` : `${Math.min(...versions)}..${newest}`;
    const fix = hello.protocolVersion > newest ? 'upgrade the destination' : 'upgrade the source';
    throw new LivemigError(
      'LIVEMIG_E_VERSION_MISMATCH',
      `source speaks protocol ${hello.protocolVersion}, this destination ${ours}: ${fix}`,
    );
  }
  if (hello.pageSize !== local.pageSize) {
    throw new LivemigError(
      'LIVEMIG_E_HANDSHAKE',
      `source guest uses ${hello.pageSize}-byte pages, this destination ${local.pageSize}-byte pages: ` +
        'start the destination with the same page size as the source',
    );
  }
  const codecs = hello.codecs.filter((c) => local.codecs.includes(c));
  if (codecs.length === 0) {
    throw new LivemigError(
      'LIVEMIG_E_HANDSHAKE',
      `source offers codecs [${list(hello.codecs)}], this destination decodes [${list(local.codecs)}]: ` +
        'no codec in common; enable one codec on both sides (raw always works)',
    );
  }
  const localMax = Math.min(Math.max(local.maxFrameBytes, MIN_MAX_FRAME_BYTES), MAX_MAX_FRAME_BYTES);
  const localFeatures = local.features ?? [];
  return {
    accepted: true,
    codecs,
    maxFrameBytes: Math.min(hello.maxFrameBytes, localMax),
    features: hello.features.filter((f) => localFeatures.includes(f)),
  };
}

/** A HELLO_ACK that refuses the migration, carrying the negotiation error's message and code. */
export function refusalAck(err: LivemigError, local: Pick<NegotiateLocal, 'maxFrameBytes'>): HelloAck {
  const maxFrameBytes = Math.min(Math.max(local.maxFrameBytes, MIN_MAX_FRAME_BYTES), MAX_MAX_FRAME_BYTES);
  const reason = (err.message || err.code).slice(0, MAX_REASON);
  return { accepted: false, codecs: [], maxFrameBytes, reason, code: err.code };
}

/**
 * The source's check of the destination's answer: throws the refusal as a LivemigError (with the
 * destination's code and reason), or rejects terms the source never offered. Returns the ack.
 */
export function checkHelloAck(ack: HelloAck, hello: Hello): HelloAck {
  if (!ack.accepted) {
    throw new LivemigError(
      ack.code ?? 'LIVEMIG_E_HANDSHAKE',
      `destination refused the migration: ${ack.reason ?? 'no reason given'}`,
      { phase: 'handshake' },
    );
  }
  const foreign = ack.codecs.filter((c) => !hello.codecs.includes(c));
  if (foreign.length > 0) {
    throw new LivemigError('LIVEMIG_E_HANDSHAKE', `destination chose codecs the source did not offer: ${list(foreign)}`);
  }
  if (ack.maxFrameBytes > hello.maxFrameBytes) {
    throw new LivemigError(
      'LIVEMIG_E_HANDSHAKE',
      `destination chose maxFrameBytes ${ack.maxFrameBytes}, above the source's ${hello.maxFrameBytes}`,
    );
  }
  const extra = (ack.features ?? []).filter((f) => !hello.features.includes(f));
  if (extra.length > 0) {
    throw new LivemigError('LIVEMIG_E_HANDSHAKE', `destination enabled features the source did not offer: ${list(extra)}`);
  }
  return ack;
}
