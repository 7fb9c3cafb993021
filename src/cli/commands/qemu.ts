/**
 * `livemig qemu analyze STREAM` and `livemig qemu replay STREAM --out FILE`: offline tools over a
 * captured QEMU migration stream (gzip accepted), built on src/qemu/stream.
 */

import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createGunzip } from 'node:zlib';
import { open } from 'node:fs/promises';
import { LivemigError } from '../../core/errors.js';
import { getCodec } from '../../codec/index.js';
import { createMemoryPair } from '../../transport/memory/index.js';
import { createTransport } from '../../transport/registry.js';
import type { Channel } from '../../transport/types.js';
import { checkFrame, decodeFrame } from '../../wire/index.js';
import {
  QemuStreamParser, QemuStreamWriter, StreamDestinationDecoder, StreamSourceEncoder, runAnalyze, type AnalyzeReport,
  type StreamPipelineOptions,
} from '../../qemu/stream/index.js';
import { choiceOpt, intOpt, parseFlags } from '../args.js';
import { QEMU_PROXY_HELP, qemuProxyCommand } from './qemu-proxy.js';

export const QEMU_HELP = `livemig qemu <analyze|replay|migrate|send|receive|demo> [options]

  analyze STREAM [--json]             account for every byte of a captured QEMU migration stream by
                                      section and record type, and what each livemig codec would send
                                      for its pages (first versions full, re-sent pages as deltas)
  replay STREAM --out FILE [--codec C] [--transport memory|tcp] [--cache-mib N] [--json]
                                      send the stream through parser → codec + cache → wire frames over
                                      a channel → decode → writer; exit 0 only if FILE is byte-identical
STREAM may be gzip-compressed (.gz).

${QEMU_PROXY_HELP}`;

/** Reads a stream file chunk by chunk (gunzipping .gz), calling `fn` per chunk. */
export async function readStreamFile(path: string, fn: (chunk: Uint8Array) => void | Promise<void>): Promise<void> {
  const gz = await isGzip(path);
  const input = gz ? createReadStream(path).pipe(createGunzip()) : createReadStream(path, { highWaterMark: 256 * 1024 });
  for await (const chunk of input) await fn(chunk as Buffer);
}

async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** `livemig qemu ...`; returns the exit code. */
export async function qemuCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(QEMU_HELP + '\n');
    return sub === undefined ? 2 : 0;
  }
  if (sub === 'analyze') return analyzeCommand(rest);
  if (sub === 'replay') return replayCommand(rest);
  if (sub === 'migrate' || sub === 'send' || sub === 'receive' || sub === 'demo') return qemuProxyCommand(sub, rest, QEMU_HELP);
  throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Unknown qemu subcommand '${sub}'; expected analyze, replay, migrate, send, receive or demo`, { phase: 'cli' });
}

function streamArg(positionals: string[], what: string): string {
  if (positionals.length !== 1) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected exactly one STREAM file for 'livemig qemu ${what}', got ${positionals.length}`, { phase: 'cli' });
  }
  return positionals[0];
}

function positionals(argv: string[]): { flags: string[]; files: string[] } {
  const flags: string[] = [];
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      flags.push(a);
      if (!a.includes('=') && i + 1 < argv.length && !argv[i + 1].startsWith('--') && a !== '--json' && a !== '--help') flags.push(argv[++i]);
    } else {
      files.push(a);
    }
  }
  return { flags, files };
}

async function analyzeCommand(argv: string[]): Promise<number> {
  const { flags, files } = positionals(argv);
  const values = parseFlags(flags, { json: { type: 'boolean' }, help: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(QEMU_HELP + '\n');
    return 0;
  }
  const path = streamArg(files, 'analyze');
  const report = await runAnalyze((fn) => readStreamFile(path, fn));
  if (values.json === true) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(formatAnalyze(path, report));
  return report.accountedBytes === report.totalBytes ? 0 : 1;
}

function formatAnalyze(path: string, r: AnalyzeReport): string {
  const pct = (n: number): string => ((100 * n) / Math.max(1, r.totalBytes)).toFixed(2).padStart(6) + ' %';
  const lines = [`${path}: ${r.totalBytes} bytes, ${r.ramRecords} RAM records, ${r.ramSections} ram sections`];
  if (r.passthrough !== null) lines.push(`pass-through from byte ${r.passthrough.offset}: ${r.passthrough.reason}`);
  lines.push('', 'bytes by part:');
  for (const [name, n] of Object.entries(r.bytesByPart)) lines.push(`  ${name.padEnd(28)} ${String(n).padStart(12)}  ${pct(n)}`);
  lines.push(`  ${'total accounted'.padEnd(28)} ${String(r.accountedBytes).padStart(12)}  (file ${r.totalBytes})`);
  lines.push('', 'records:');
  for (const [name, n] of Object.entries(r.records)) lines.push(`  ${name.padEnd(28)} ${String(n).padStart(12)}`);
  lines.push('', `what each codec would send for the ${r.ramRecords} RAM records (QEMU sends ${r.qemuRamBytes} bytes for them, headers included):`);
  lines.push(`  ${'codec'.padEnd(10)} ${'payload B'.padStart(12)} ${'vs QEMU'.padStart(8)} ${'full'.padStart(8)} ${'delta'.padStart(8)} ${'fallback'.padStart(9)}`);
  for (const c of r.codecs) {
    lines.push(`  ${c.codec.padEnd(10)} ${String(c.payloadBytes).padStart(12)} ${(c.payloadBytes / Math.max(1, r.qemuRamBytes)).toFixed(3).padStart(8)} ${String(c.fullPages).padStart(8)} ${String(c.deltaPages).padStart(8)} ${String(c.fallbackPages).padStart(9)}`);
  }
  lines.push(`  (record headers not included; ${r.unresolvedPages} XBZRLE records had no known old page)`);
  return lines.join('\n') + '\n';
}

async function replayCommand(argv: string[]): Promise<number> {
  const { flags, files } = positionals(argv);
  const values = parseFlags(flags, {
    out: { type: 'string' }, codec: { type: 'string' }, transport: { type: 'string' }, 'cache-mib': { type: 'string' },
    json: { type: 'boolean' }, help: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(QEMU_HELP + '\n');
    return 0;
  }
  const path = streamArg(files, 'replay');
  const out = values.out;
  if (typeof out !== 'string' || out === '') throw new LivemigError('LIVEMIG_E_INVALID_OPTION', 'Expected --out FILE for the rebuilt stream', { phase: 'cli' });
  const codec = getCodec(typeof values.codec === 'string' ? values.codec : 'adaptive');
  const transport = choiceOpt(values, 'transport', ['memory', 'tcp'] as const, 'memory');
  const cacheMib = intOpt(values, 'cache-mib', 64, 1, 65536);
  const result = await replayStream(path, out, { codec, cacheBytes: cacheMib * 1024 * 1024 }, transport);
  if (values.json === true) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else {
    process.stdout.write(`replayed ${result.inputBytes} bytes over ${transport} with ${codec.name}: ${result.frames} frames, ${result.frameBytes} wire bytes `
      + `(${(result.frameBytes / Math.max(1, result.inputBytes)).toFixed(3)} of the stream), ${result.pages} pages via the codec, `
      + `${result.verbatim} verbatim records; wrote ${result.outputBytes} bytes to ${out}: ${result.identical ? 'byte-identical' : 'DIFFERENT'}\n`);
  }
  return result.identical ? 0 : 1;
}

/** Result of a replay. */
export interface ReplayResult {
  inputBytes: number;
  outputBytes: number;
  identical: boolean;
  frames: number;
  frameBytes: number;
  pages: number;
  verbatim: number;
  opaqueBytes: number;
  passthroughReason: string | null;
}

/**
 * Replays a captured stream through the whole driver-B pipeline in-process and writes the rebuilt
 * stream to `outPath`; `identical` compares it with the input byte for byte.
 */
export async function replayStream(
  inPath: string, outPath: string, options: Omit<StreamPipelineOptions, 'pageSize'>, transport: 'memory' | 'tcp' = 'memory',
): Promise<ReplayResult> {
  const [src, dst, cleanup] = await openChannels(transport);
  const pipeline: StreamPipelineOptions = { ...options, pageSize: 4096 };
  const file = createWriteStream(outPath);
  let failure: unknown;
  file.on('error', (err) => { failure ??= err; });
  let outputBytes = 0;
  const writer = new QemuStreamWriter((bytes) => {
    outputBytes += bytes.length;
    file.write(bytes);
  });
  const decoder = new StreamDestinationDecoder(pipeline, (event) => writer.write(event));
  const receiving = (async () => {
    for await (const message of dst) decoder.frame(decodeFrame(message));
  })();
  const parser = new QemuStreamParser();
  const pending: Uint8Array[] = [];
  const encoder = new StreamSourceEncoder(pipeline, (frame) => pending.push(frame));
  let inputBytes = 0;
  let passthroughReason: string | null = null;
  const input: Uint8Array[] = [];
  try {
    await readStreamFile(inPath, async (chunk) => {
      inputBytes += chunk.length;
      input.push(chunk);
      for (const event of parser.push(chunk)) {
        if (event.kind === 'passthrough') passthroughReason = event.reason;
        encoder.write(event);
      }
      encoder.flush();
      // Strict order: one channel, frames sent in the order they were built.
      for (const frame of pending.splice(0)) await src.send(frame);
    });
    parser.end();
    await src.close();
    await receiving;
  } catch (err) {
    failure ??= err;
  } finally {
    await cleanup();
    file.end();
    await once(file, 'close').catch(() => undefined);
  }
  if (failure !== undefined) throw failure;
  const stats = encoder.stats();
  const original = Buffer.concat(input);
  const { readFile } = await import('node:fs/promises');
  const rebuilt = await readFile(outPath);
  return {
    inputBytes, outputBytes, identical: original.equals(rebuilt), frames: stats.frames, frameBytes: stats.frameBytes,
    pages: stats.pages, verbatim: stats.verbatim, opaqueBytes: stats.opaqueBytes, passthroughReason,
  };
}

async function openChannels(transport: 'memory' | 'tcp'): Promise<[Channel, Channel, () => Promise<void>]> {
  if (transport === 'memory') {
    const [a, b] = createMemoryPair({ messageLength: checkFrame });
    return [a, b, async () => {
      a.destroy();
      b.destroy();
    }];
  }
  const tcp = createTransport('tcp');
  const listener = await tcp.listen({ host: '127.0.0.1', port: 0 }, { messageLength: checkFrame });
  const [a, b] = await Promise.all([tcp.connect(listener.address, { messageLength: checkFrame }), listener.accept()]);
  return [a, b, async () => {
    a.destroy();
    b.destroy();
    await listener.close();
  }];
}
