/** Shared set-up for the multipath tests: a loopback pair with its subflow sockets exposed. */
import type { Socket } from 'node:net';
import { createHash } from 'node:crypto';
import {
  connectMultipath, listenMultipath, type MultipathChannel, type MultipathConnectOptions, type MultipathListener,
} from '../../src/transport/index.js';
import { lengthPrefixed, tagged, tagsOf } from '../transport/helpers.js';

export interface MultipathPair {
  a: MultipathChannel;
  b: MultipathChannel;
  listener: MultipathListener;
  /** Subflow sockets by slot, as each side saw them last. */
  aSockets: Map<number, Socket>;
  bSockets: Map<number, Socket>;
  teardown(): Promise<void>;
}

/** A connected pair over 127.0.0.1; `options` apply to both sides (a connects, b listens). */
export async function multipathPair(subflows: number, options: Partial<MultipathConnectOptions> = {}): Promise<MultipathPair> {
  const aSockets = new Map<number, Socket>();
  const bSockets = new Map<number, Socket>();
  const base = { messageLength: lengthPrefixed, idleTimeoutMs: 0, ...options };
  const listener = await listenMultipath({ ...base, local: { host: '127.0.0.1', port: 0 }, onSubflow: ({ socket, slot }) => bSockets.set(slot, socket) });
  const [a, b] = await Promise.all([
    connectMultipath({ ...base, remote: listener.address, subflows, onSubflow: ({ socket, slot }) => aSockets.set(slot, socket) }),
    listener.accept(),
  ]);
  await until(() => b.stats().subflowsUp === subflows, 2000);
  return {
    a, b, listener, aSockets, bSockets,
    teardown: async () => {
      a.destroy();
      b.destroy();
      await listener.close();
    },
  };
}

/** Waits until `cond` holds, polling every 10 ms; throws after `ms`. */
export async function until(cond: () => boolean, ms: number): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A message whose payload is derived from its sequence number, so the receiver can check it. */
export function numbered(seq: number, bytes: number, round = 0): Buffer {
  const m = tagged(round, seq, bytes);
  let i = 12;
  for (; i + 4 <= m.length; i += 4) m.writeUInt32BE((Math.imul(seq, 2654435761) + i) >>> 0, i);
  for (; i < m.length; i++) m[i] = seq & 0xff;
  return m;
}

/** Checks a received message against numbered(); returns its seq. */
export function checkNumbered(m: Uint8Array): number {
  const { round, seq } = tagsOf(m);
  const want = numbered(seq, m.length, round);
  if (!Buffer.from(m.buffer, m.byteOffset, m.length).equals(want)) throw new Error(`message ${seq} arrived corrupted`);
  return seq;
}

export function sha256(m: Uint8Array): string {
  return createHash('sha256').update(m).digest('hex');
}
