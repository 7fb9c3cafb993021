/**
 * Long fuzzing run over the wire decoders, the handshake validators and the authentication framing,
 * the sibling of run-long.ts (codecs):
 *
 *   node dist/test/fuzz/run-long-wire.js [--cases 1000000] [--seed N] [--target decodeFrame]
 *
 * Per target, `cases` random or mutated inputs; each may only return or throw a LivemigError. Prints
 * cases/s, accepted/rejected and the slowest call per target; exits 1 on any other outcome.
 */
import { parseArgs } from 'node:util';
import { crc32 } from 'node:zlib';
import { LivemigError } from '../../src/core/errors.js';
import {
  FrameDecoder, FrameType, PageBatchBuilder, checkFrame, decodeControl, decodeFrame, encodeAbort, encodeDigest, encodeHello,
  encodeHelloAck, encodePing, encodeResult, encodeRoundEnd, encodeRoundStart, encodeStopCopy, forEachPageRecord,
  validateHello, validateHelloAck, type Hello,
} from '../../src/wire/index.js';
import { AUTH_MAGIC, authFraming } from '../../src/transport/index.js';
import { Prng } from '../helpers/prng.js';

const HELLO: Hello = {
  protocolVersion: 1, sessionId: 'fuzz', codecs: ['raw', 'lz4'], pageSize: 4096,
  guest: { kind: 'synthetic', workload: 'hotset', memoryBytes: 1 << 24, pageSize: 4096, params: { seed: 1 } },
  transport: 'tcp', maxFrameBytes: 1 << 20, features: [],
};

function validFrame(rng: Prng, seq: number): Uint8Array {
  const round = rng.int(0, 50);
  switch (rng.int(0, 11)) {
    case 0: return encodeHello(HELLO, { seq });
    case 1: return encodeHelloAck({ accepted: true, codecs: ['raw'], maxFrameBytes: 1 << 20 }, { seq });
    case 2: return encodeRoundStart({ round, dirtyPages: rng.u32() }, { seq });
    case 3: return encodeRoundEnd({ round, pages: rng.u32(), payloadBytes: rng.u32() }, { seq });
    case 4: return encodeStopCopy({ round, pagesRemaining: rng.u32() }, { seq });
    case 5: return encodeDigest({ algorithm: 'xxh3-128', pageCount: rng.u32(), digest: Buffer.from(rng.bytes(16)).toString('hex') }, { seq });
    case 6: return encodeResult({ verified: rng.chance(0.5), selfCheckOk: null, detail: 'ok' }, { seq });
    case 7: return encodeAbort({ code: 'LIVEMIG_E_LIMIT', message: 'busy' }, { seq });
    case 8: return encodePing({ nonce: rng.u32() }, { seq });
    default: {
      const b = new PageBatchBuilder(16 * 1024);
      for (let i = rng.int(0, 12); i > 0; i--) {
        const len = rng.pick([0, 1, 33, 700]);
        const out = b.reserve(len);
        if (out === null) break;
        rng.fill(out);
        b.commit(rng.u32(), rng.int(0, 6), len);
      }
      return b.finish({ round, seq });
    }
  }
}

function authMessage(rng: Prng): Uint8Array {
  const type = rng.int(0, 7);
  const len = [8, 40, 72, 40, 8, 8, 8][type] ?? 8;
  const m = rng.bytes(len);
  m.set(AUTH_MAGIC, 0);
  m[4] = type;
  return m;
}

function mutate(rng: Prng, input: Uint8Array): Uint8Array {
  let out: Uint8Array = Uint8Array.from(input);
  for (let e = rng.int(1, 5); e > 0; e--) {
    switch (rng.int(0, 6)) {
      case 0: if (out.length) out[rng.int(0, out.length)] ^= 1 << rng.int(0, 8); break;
      case 1: if (out.length) out[rng.int(0, out.length)] = rng.pick([0, 1, 0x7f, 0x80, 0xff]); break;
      case 2: out = out.slice(0, rng.int(0, out.length + 1)); break;
      case 3: out = Buffer.concat([out, rng.bytes(rng.int(1, 16))]); break;
      case 4: if (out.length >= 4) new DataView(out.buffer).setUint32(rng.int(0, out.length - 3), rng.pick([0, 1, 0xffff_ffff, rng.u32()]), true); break;
      default: out = rng.bytes(rng.int(0, 64));
    }
  }
  // Half the time re-seal the checksum so mutations reach the body decoders.
  if (out.length >= 24 && rng.chance(0.5)) new DataView(out.buffer).setUint32(20, crc32(out.subarray(24), crc32(out.subarray(0, 20))), true);
  return out;
}

type Target = (rng: Prng, corpus: Uint8Array[]) => void;

const VALUES: unknown[] = [null, true, 0, -1, 1.5, 2 ** 40, '', 'raw', 'x'.repeat(300), [], ['raw'], [1], {}, Number.NaN];
const framing = authFraming(checkFrame);

const TARGETS: Record<string, Target> = {
  checkFrame: (rng, c) => void checkFrame(mutate(rng, rng.pick(c))),
  decodeFrame: (rng, c) => void decodeFrame(mutate(rng, rng.pick(c)), { maxFrameBytes: 64 * 1024 }),
  'FrameDecoder(stream)': (rng, c) => {
    const d = new FrameDecoder({ maxFrameBytes: 64 * 1024 });
    const stream = Buffer.concat([rng.pick(c), mutate(rng, rng.pick(c)), rng.pick(c)]);
    for (let at = 0; at < stream.length;) {
      const n = rng.int(1, 200);
      d.push(stream.subarray(at, at + n));
      at += n;
      while (d.next() !== null);
    }
  },
  decodeControl: (rng, c) => {
    const type = rng.pick(Object.values(FrameType).filter((t) => t !== FrameType.PAGES));
    decodeControl({ type, flags: 0, round: 0, seq: 0, body: mutate(rng, rng.pick(c).subarray(24)) });
  },
  forEachPageRecord: (rng, c) => void forEachPageRecord(mutate(rng, rng.pick(c).subarray(24)), () => {}),
  validateHello: (rng) => {
    const hello = structuredClone(HELLO) as unknown as Record<string, unknown>;
    const target = rng.chance(0.3) ? (hello.guest as Record<string, unknown>) : hello;
    const key = rng.chance(0.1) ? '__proto__' : rng.pick(Object.keys(target));
    if (rng.chance(0.2)) delete target[key];
    else target[key] = rng.pick(VALUES);
    validateHello(hello);
  },
  validateHelloAck: (rng) => void validateHelloAck({
    accepted: rng.pick([true, false, ...VALUES]), codecs: rng.pick([['raw'], ...VALUES]),
    maxFrameBytes: rng.pick([1 << 20, ...VALUES]), reason: rng.pick([undefined, 'x', ...VALUES]),
  }),
  'authFraming(checkFrame)': (rng, c) => void framing(mutate(rng, rng.chance(0.5) ? authMessage(rng) : rng.pick(c))),
};

function main(): number {
  const { values } = parseArgs({ options: { cases: { type: 'string', default: '1000000' }, seed: { type: 'string', default: String(Date.now() % 1_000_000) }, target: { type: 'string' } } });
  const cases = Number(values.cases);
  const seed = Number(values.seed);
  if (!Number.isInteger(cases) || cases <= 0) throw new Error(`Expected --cases to be a positive integer, got '${values.cases}'`);
  const names = values.target ? [values.target] : Object.keys(TARGETS);
  console.log(`fuzzing ${names.length} wire/handshake/auth targets: ${cases} cases each, seed ${seed}`);
  console.log(`${'target'.padEnd(26)} ${'cases'.padStart(9)} ${'cases/s'.padStart(9)} ${'accepted'.padStart(9)} ${'rejected'.padStart(9)} ${'slowest'.padStart(9)}`);
  let failed = false;
  for (const name of names) {
    const fn = TARGETS[name];
    if (!fn) throw new Error(`Expected --target to be one of ${Object.keys(TARGETS).join(', ')}, got '${name}'`);
    const rng = new Prng(seed);
    const corpus = Array.from({ length: 300 }, (_, i) => validFrame(rng, i));
    let accepted = 0;
    let rejected = 0;
    let worstMs = 0;
    const failures: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < cases; i++) {
      const t = performance.now();
      try {
        fn(rng, corpus);
        accepted++;
      } catch (err) {
        if (err instanceof LivemigError) rejected++;
        else if (failures.length < 5) failures.push(`case ${i}: ${String(err)}`);
      }
      worstMs = Math.max(worstMs, performance.now() - t);
    }
    const s = (performance.now() - t0) / 1000;
    console.log(`${name.padEnd(26)} ${String(cases).padStart(9)} ${String(Math.round(cases / s)).padStart(9)} ${String(accepted).padStart(9)} ${String(rejected).padStart(9)} ${worstMs.toFixed(1).padStart(7)}ms${failures.length ? '  FAILED' : ''}`);
    for (const f of failures) console.log(`  ${f}`);
    failed ||= failures.length > 0;
  }
  return failed ? 1 : 0;
}

process.exitCode = main();
