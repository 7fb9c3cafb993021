import { LivemigError, epochMs, systemClock, silentLogger, type Clock, type Logger } from '../core/index.js';
import type { Guest, GuestDescription, SelfCheckResult } from '../guest/index.js';
import { PageHashTable, memoryDigest } from '../guest/index.js';
import { getCodec, getCodecById, codecNames, blockCodecById, blockCodecNames, copyBytes, xorBytes, MAX_BLOCK_PAGES } from '../codec/index.js';
import type { Channel } from '../transport/index.js';
import {
  FrameType, ReceiverSequence, decodeControl, forEachPageRecord, negotiate, refusalAck, DEFAULT_MAX_FRAME_BYTES, SUPPORTED_PROTOCOL_VERSIONS,
} from '../wire/index.js';
import { Peer } from './peer.js';

export interface DestinationOptions {
  channel: Channel;
  /** Builds the (paused, empty) guest the memory arrives into. */
  createGuest: (description: GuestDescription) => Guest | Promise<Guest>;
  /** Largest frame accepted, in bytes. @default 4 MiB */
  maxFrameBytes?: number;
  /**
   * 'pages' compares the per-page hashes taken as pages were applied (the paused destination's
   * memory changes in no other way); 'memory' also rehashes all received memory before resuming, to
   * catch a stray write, at about 0.4 s per GiB of downtime. A source that asks for full
   * verification gets 'memory'. @default 'pages'
   */
  verify?: 'memory' | 'pages';
  /** Run the workload's self-check after resuming. @default true */
  selfCheck?: boolean;
  /** Silence after which the source counts as gone, in ms. @default 60000 */
  idleTimeoutMs?: number;
  /** Keep the resumed guest running and hand it to the caller instead of closing it. @default false */
  keepGuest?: boolean;
  /**
   * Codecs (page and block) this destination offers in its handshake, @default all it decodes. A
   * smaller list stands for an older destination: records of any other codec are refused.
   */
  codecs?: readonly string[];
  /** Test hook: runs after the last page is applied and before verification (fault injection). */
  beforeVerify?: (guest: Guest) => void;
  clock?: Clock;
  logger?: Logger;
}

export interface DestinationReport {
  verified: boolean;
  sessionId: string;
  resumedAtMs: number | null;
  'self-check': SelfCheckResult | null;
  'pages-applied': number;
  'wire-bytes-received': number;
  'decode-ms': number;
  'verify-ms': number;
  rounds: number;
  guest: Guest | null;
}

/**
 * Driver A's destination side: applies page records as they come (all of round r before any of
 * round r+1, as the source sends them), verifies the digest, and resumes the guest only on a match.
 */
export async function runDestination(opts: DestinationOptions): Promise<DestinationReport> {
  const clock = opts.clock ?? systemClock;
  const log = opts.logger ?? silentLogger;
  let maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const peer = new Peer(opts.channel, () => maxFrameBytes);
  const idle = opts.idleTimeoutMs ?? 60_000;
  let guest: Guest | null = null;
  let resumed = false;
  const report: DestinationReport = {
    verified: false, sessionId: '', resumedAtMs: null, 'self-check': null,
    'pages-applied': 0, 'wire-bytes-received': 0, 'decode-ms': 0, 'verify-ms': 0, rounds: 0, guest: null,
  };
  try {
    const seq = new ReceiverSequence();
    const helloFrame = await peer.next(idle);
    if (!helloFrame) throw new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', 'The source closed the connection before its handshake');
    seq.observe(helloFrame.type, helloFrame.round);
    const hello = decodeControl(helloFrame);
    if (hello.type !== FrameType.HELLO) throw new LivemigError('LIVEMIG_E_HANDSHAKE', `Expected HELLO first, got frame type ${hello.type}`);
    report.sessionId = hello.body.sessionId;
    let ack;
    try {
      ack = negotiate(hello.body, { codecs: [...(opts.codecs ?? [...codecNames(), ...blockCodecNames()])], pageSize: hello.body.guest.pageSize, maxFrameBytes, protocolVersions: SUPPORTED_PROTOCOL_VERSIONS });
    } catch (err) {
      if (err instanceof LivemigError) await peer.sendControl(FrameType.HELLO_ACK, refusalAck(err, { maxFrameBytes }));
      throw err;
    }
    // Answer first, so the source's handshake time is a network round trip (it sizes the switchover
    // from it); building a large guest takes longer, and the first pages simply wait for it.
    await peer.sendControl(FrameType.HELLO_ACK, ack);
    guest = await opts.createGuest(hello.body.guest);
    maxFrameBytes = ack.maxFrameBytes;
    const allowed = new Set(ack.codecs);
    const fullSource = hello.body.features.includes('verify-full');
    const table = new PageHashTable(guest.pageCount);
    const g = guest;
    // Records applied per round, checked against each ROUND_END's announcement.
    const applied = new Map<number, number>();
    // Pages never written here are still zero: a zero record for them needs neither a fill nor a hash.
    const written = new Uint8Array(g.pageCount);
    const zeroId = getCodec('zero').id;
    // Where a multi-page block is decompressed (and validated) before any of its pages is written.
    let blockScratch: Uint8Array | null = null;
    log.debug(`session ${report.sessionId}: ${g.pageCount} pages of ${g.pageSize} bytes`);

    for (;;) {
      const frame = await peer.next(idle);
      if (!frame) throw new LivemigError('LIVEMIG_E_TRANSPORT_CLOSED', 'The source closed the connection mid-migration; the partial guest is discarded', { phase: 'precopy' });
      seq.observe(frame.type, frame.round);
      report['wire-bytes-received'] += frame.body.length;
      if (frame.type === FrameType.PAGES) {
        const t = performance.now();
        // Pages, not records: a block record carries several (ROUND_END counts pages).
        let n = 0;
        forEachPageRecord(frame.body, (index, codecId, payload) => {
          if (index >= g.pageCount) throw new LivemigError('LIVEMIG_E_WIRE_MALFORMED', `Page index ${index} is past the guest's ${g.pageCount} pages`);
          const block = blockCodecById(codecId);
          if (block !== undefined) {
            if (!allowed.has(block.name)) throw new LivemigError('LIVEMIG_E_HANDSHAKE', `The source sent codec '${block.name}', which was not negotiated`);
            blockScratch ??= new Uint8Array(MAX_BLOCK_PAGES * g.pageSize);
            // decode validates the whole block first: a malformed one throws having written no page.
            const { pages, data } = block.decode(payload, index, g.pageCount, g.pageSize, blockScratch);
            for (let k = 0; k < pages.length; k++) {
              const page = g.page(pages[k]);
              const bytes = data.subarray(k * g.pageSize, (k + 1) * g.pageSize);
              if (block.delta) xorBytes(page, page, bytes);
              else copyBytes(bytes, page);
              written[pages[k]] = 1;
              table.set(pages[k], page);
            }
            n += pages.length;
            return;
          }
          n++;
          const codec = getCodecById(codecId);
          if (!allowed.has(codec.name)) throw new LivemigError('LIVEMIG_E_HANDSHAKE', `The source sent codec '${codec.name}', which was not negotiated`);
          if (codecId === zeroId && payload.length === 0) {
            if (written[index]) g.page(index).fill(0);
            written[index] = 0;
            table.setZero(index, g.pageSize);
            return;
          }
          const page = g.page(index);
          codec.decode(payload, page);
          written[index] = 1;
          table.set(index, page);
        });
        applied.set(frame.round, (applied.get(frame.round) ?? 0) + n);
        report['decode-ms'] += performance.now() - t;
        continue;
      }
      const msg = decodeControl(frame);
      if (msg.type === FrameType.ROUND_END) {
        const got = applied.get(msg.body.round) ?? 0;
        if (msg.body.pages !== got) {
          throw new LivemigError('LIVEMIG_E_WIRE_SEQUENCE', `Round ${msg.body.round} ended with ${got} pages applied but ${msg.body.pages} announced`);
        }
        report['pages-applied'] += got;
        report.rounds = msg.body.round + 1;
      } else if (msg.type === FrameType.STOP_COPY) {
        log.debug(`stop-and-copy: up to ${msg.body.pagesRemaining} pages remain`);
      } else if (msg.type === FrameType.DIGEST) {
        opts.beforeVerify?.(g);
        const t = performance.now();
        const mine = opts.verify === 'memory' || fullSource ? memoryDigest(g.memory, g.pageSize) : table.root();
        report['verify-ms'] = performance.now() - t;
        seq.resultSent();
        if (mine !== msg.body.digest || msg.body.pageCount !== g.pageCount) {
          await peer.sendControl(FrameType.RESULT, { verified: false, selfCheckOk: null, detail: `digest ${mine.slice(0, 16)}… differs from the source's ${msg.body.digest.slice(0, 16)}…` });
          throw new LivemigError('LIVEMIG_E_DIGEST_MISMATCH', 'The received memory does not match the source digest; the guest is not resumed here and stays on the source', { phase: 'verify' });
        }
        report.verified = true;
        await g.resume();
        resumed = true;
        report.resumedAtMs = epochMs();
        await peer.sendControl(FrameType.RESULT, { verified: true, selfCheckOk: null, detail: 'digest matches; guest resumed', resumedAtMs: report.resumedAtMs });
        report['self-check'] = opts.selfCheck === false ? null : await checkRunningGuest(g);
        const sc = report['self-check'];
        await peer.sendControl(FrameType.RESULT, {
          verified: true, selfCheckOk: sc ? sc.ok : null, detail: sc ? sc.detail : 'self-check not run', resumedAtMs: report.resumedAtMs,
        });
        break;
      }
      // ROUND_START and PING need no action beyond the sequence check.
    }
    await opts.channel.close().catch(() => {});
    if (opts.keepGuest) report.guest = g;
    else await g.close();
    void clock;
    return report;
  } catch (err) {
    await peer.abort(err, clock);
    opts.channel.destroy();
    // A guest that was not verified never runs here; its partial memory is dropped.
    if (guest && !resumed) await guest.close().catch(() => {});
    else if (guest && !opts.keepGuest) await guest.close().catch(() => {});
    throw err;
  }
}

/** Pauses the workload for the self-check so it reads a consistent memory, then lets it run on. */
async function checkRunningGuest(g: Guest): Promise<SelfCheckResult> {
  await g.pause();
  try {
    return await g.selfCheck();
  } finally {
    await g.resume();
  }
}
