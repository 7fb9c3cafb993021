import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LivemigError } from '../../src/core/errors.js';
import { sampleHello, throwsCode } from './wire-test-kit.js';
import {
  MIN_MAX_FRAME_BYTES, checkHelloAck, negotiate, refusalAck, validateHello, validateHelloAck,
  type NegotiateLocal,
} from '../../src/wire/index.js';

const LOCAL: NegotiateLocal = {
  codecs: ['raw', 'zero', 'lz4', 'xbzrle'],
  pageSize: 4096,
  maxFrameBytes: 1 << 20,
  protocolVersions: [1],
  features: ['auto-converge', 'postcopy'],
};

test('negotiate agrees on common codecs in the source order, the smaller frame limit and common features', () => {
  const ack = negotiate(sampleHello(), LOCAL);
  assert.deepEqual(ack, { accepted: true, codecs: ['xbzrle', 'lz4', 'raw', 'zero'], maxFrameBytes: 1 << 20, features: ['auto-converge'] });
  assert.deepEqual(checkHelloAck(validateHelloAck(ack), sampleHello()), ack);
});

test('a newer source is told to upgrade the destination, an older one to upgrade the source', () => {
  throwsCode(() => negotiate({ ...sampleHello(), protocolVersion: 2 }, LOCAL), 'LIVEMIG_E_VERSION_MISMATCH',
    /^source speaks protocol 2, this destination 1: upgrade the destination$/);
  throwsCode(() => negotiate(sampleHello(), { ...LOCAL, protocolVersions: [2, 3] }), 'LIVEMIG_E_VERSION_MISMATCH',
    /^source speaks protocol 1, this destination 2\.\.3: upgrade the source$/);
});

test('negotiate names the differing page size and codec lists', () => {
  throwsCode(() => negotiate({ ...sampleHello(), pageSize: 16384, guest: { ...sampleHello().guest, pageSize: 16384 } }, LOCAL),
    'LIVEMIG_E_HANDSHAKE', /16384-byte pages, this destination 4096-byte pages/);
  throwsCode(() => negotiate({ ...sampleHello(), codecs: ['lz4-delta'] }, LOCAL),
    'LIVEMIG_E_HANDSHAKE', /offers codecs \[lz4-delta\], this destination decodes \[raw, zero, lz4, xbzrle\]/);
});

test('a refusal carries the reason and code back to the source, which raises it', () => {
  let err: LivemigError | undefined;
  try {
    negotiate({ ...sampleHello(), protocolVersion: 2 }, LOCAL);
  } catch (e) {
    err = e as LivemigError;
  }
  const ack = validateHelloAck(JSON.parse(JSON.stringify(refusalAck(err!, LOCAL))));
  assert.equal(ack.accepted, false);
  throwsCode(() => checkHelloAck(ack, sampleHello()), 'LIVEMIG_E_VERSION_MISMATCH', /destination refused the migration: source speaks protocol 2/);
});

test('the source rejects an ack with terms it never offered', () => {
  const hello = sampleHello();
  throwsCode(() => checkHelloAck({ accepted: true, codecs: ['adaptive'], maxFrameBytes: 1 << 20 }, hello), 'LIVEMIG_E_HANDSHAKE', /adaptive/);
  throwsCode(() => checkHelloAck({ accepted: true, codecs: ['raw'], maxFrameBytes: 8 << 20 }, hello), 'LIVEMIG_E_HANDSHAKE', /maxFrameBytes/);
  throwsCode(() => checkHelloAck({ accepted: true, codecs: ['raw'], maxFrameBytes: 1 << 20, features: ['x'] }, hello), 'LIVEMIG_E_HANDSHAKE', /features/);
});

test('validateHello rejects each missing or ill-typed field, naming it', () => {
  const mutations: [string, (h: Record<string, unknown>) => void, RegExp][] = [
    ['no version', (h) => delete h.protocolVersion, /'protocolVersion'/],
    ['string version', (h) => (h.protocolVersion = '1'), /'protocolVersion'/],
    ['empty session', (h) => (h.sessionId = ''), /'sessionId'/],
    ['codecs not array', (h) => (h.codecs = 'raw'), /'codecs'/],
    ['no codecs', (h) => (h.codecs = []), /'codecs'/],
    ['codec not string', (h) => (h.codecs = [1]), /'codecs'/],
    ['duplicate codec', (h) => (h.codecs = ['raw', 'raw']), /twice/],
    ['odd page size', (h) => (h.pageSize = 4095), /power of two/],
    ['no guest', (h) => delete h.guest, /HELLO guest/],
    ['unknown guest kind', (h) => ((h.guest as Record<string, unknown>).kind = 'vmware'), /'kind' must be one of synthetic, image/],
    ['unknown workload', (h) => ((h.guest as Record<string, unknown>).workload = 'bitcoin'), /'workload'/],
    ['memory not page multiple', (h) => ((h.guest as Record<string, unknown>).memoryBytes = 4097), /multiple/],
    ['guest page size differs', (h) => ((h.guest as Record<string, unknown>).pageSize = 8192), /differs/],
    ['params array', (h) => ((h.guest as Record<string, unknown>).params = []), /params/],
    ['param object', (h) => ((h.guest as Record<string, unknown>).params = { a: {} }), /param 'a'/],
    ['param NaN-ish', (h) => ((h.guest as Record<string, unknown>).params = { a: null }), /param 'a'/],
    ['transport number', (h) => (h.transport = 5), /'transport'/],
    ['tiny frames', (h) => (h.maxFrameBytes = MIN_MAX_FRAME_BYTES - 1), /'maxFrameBytes'/],
    ['features missing', (h) => delete h.features, /'features'/],
  ];
  for (const [name, mutate, message] of mutations) {
    const hello = structuredClone(sampleHello()) as unknown as Record<string, unknown>;
    mutate(hello);
    throwsCode(() => validateHello(hello), 'LIVEMIG_E_WIRE_MALFORMED', message);
    assert.ok(name);
  }
  throwsCode(() => validateHello(null), 'LIVEMIG_E_WIRE_MALFORMED', /expected an object, got null/);
});

test('validateHello keeps known fields only and a __proto__ param as plain data', () => {
  const raw = JSON.parse(JSON.stringify({ ...sampleHello(), extra: 1 }).replace('"params":{', '"params":{"__proto__":"x",')) as unknown;
  const hello = validateHello(raw);
  assert.equal('extra' in hello, false);
  assert.equal(Object.getPrototypeOf(hello.guest.params), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(hello.guest.params, '__proto__')?.value, 'x');
});

test('validateHelloAck requires a reason for a refusal and a known error code', () => {
  throwsCode(() => validateHelloAck({ accepted: false, codecs: [], maxFrameBytes: 1 << 20 }), 'LIVEMIG_E_WIRE_MALFORMED', /'reason'/);
  throwsCode(() => validateHelloAck({ accepted: true, codecs: [], maxFrameBytes: 1 << 20 }), 'LIVEMIG_E_WIRE_MALFORMED', /'codecs'/);
  throwsCode(() => validateHelloAck({ accepted: false, codecs: [], maxFrameBytes: 1 << 20, reason: 'x', code: 'LIVEMIG_E_NOPE' }),
    'LIVEMIG_E_WIRE_MALFORMED', /'code'/);
  throwsCode(() => validateHelloAck({ accepted: true, codecs: ['raw'], maxFrameBytes: 1.5 }), 'LIVEMIG_E_WIRE_MALFORMED', /'maxFrameBytes'/);
});
