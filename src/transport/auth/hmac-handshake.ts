/**
 * The pre-shared-key handshake: mutual challenge–response with HMAC-SHA256, run as the first
 * messages of a fresh channel, before it is handed to the engine.
 *
 *   message   = magic "LMAU" type:u8 version:u8 reason:u8 0:u8 body
 *   CHALLENGE (1)  connector -> listener   body: nonceC[32]
 *   RESPONSE  (2)  listener  -> connector  body: nonceS[32] macS[32]
 *   PROOF     (3)  connector -> listener   body: macC[32]
 *   WELCOME   (4)  listener  -> connector  body: empty
 *   REFUSE    (5)  listener  -> connector  body: empty (reason 1: wrong proof)
 *
 *   macS = HMAC-SHA256(key, "livemig-auth/1 S" | nonceC | nonceS)
 *   macC = HMAC-SHA256(key, "livemig-auth/1 C" | nonceS | nonceC)
 *
 * Both sides contribute a fresh nonce, so neither a recorded answer nor a reflected one proves
 * anything; the role labels keep one side's MAC from serving as the other's. MACs are compared in
 * constant time. The connector sends nothing else before WELCOME, and the listener's engine speaks
 * only after the connector's HELLO, so no data message ever races the handshake.
 *
 * The messages share the byte stream with wire frames ("LMIG"), so `authFraming` teaches a stream
 * transport's splitter their fixed lengths; everything else is left to the wire format's check.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { LivemigError } from '../../core/index.js';
import type { Channel, MessageLength } from '../types.js';
import { DEFAULT_AUTH_TIMEOUT_MS, MIN_KEY_BYTES, type AuthOptions } from './types.js';

/** The handshake messages' magic, "LMAU". */
export const AUTH_MAGIC: Uint8Array = Uint8Array.from([0x4c, 0x4d, 0x41, 0x55]);
const VERSION = 1;
const HEADER_BYTES = 8;
const NONCE_BYTES = 32;
const MAC_BYTES = 32;

export const AuthMessageType = { CHALLENGE: 1, RESPONSE: 2, PROOF: 3, WELCOME: 4, REFUSE: 5 } as const;
const T = AuthMessageType;

/** Whole length of each handshake message type, in bytes. */
const MESSAGE_BYTES: Readonly<Record<number, number>> = {
  [T.CHALLENGE]: HEADER_BYTES + NONCE_BYTES,
  [T.RESPONSE]: HEADER_BYTES + NONCE_BYTES + MAC_BYTES,
  [T.PROOF]: HEADER_BYTES + MAC_BYTES,
  [T.WELCOME]: HEADER_BYTES,
  [T.REFUSE]: HEADER_BYTES,
};
const REFUSE_BAD_PROOF = 1;
const LABEL_S = Buffer.from('livemig-auth/1 S', 'latin1');
const LABEL_C = Buffer.from('livemig-auth/1 C', 'latin1');

function authError(message: string, cause?: unknown): LivemigError {
  return new LivemigError('LIVEMIG_E_AUTH', message, { phase: 'handshake', cause });
}

/** Throws LIVEMIG_E_INVALID_OPTION unless `key` is a Uint8Array of at least MIN_KEY_BYTES. */
export function validateKey(key: unknown): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length < MIN_KEY_BYTES) {
    throw new LivemigError(
      'LIVEMIG_E_INVALID_OPTION',
      `Expected the pre-shared key to be at least ${MIN_KEY_BYTES} bytes, got ${key instanceof Uint8Array ? `${key.length} bytes` : typeof key}; `
      + 'make one with: head -c 32 /dev/urandom > livemig.key',
      { phase: 'setup' },
    );
  }
  return key;
}

/**
 * Wraps a stream transport's message splitter so it also frames the handshake messages: a buffer
 * that starts with "LMAU" is one of them (fixed length by type); anything else goes to `inner`.
 */
export function authFraming(inner: MessageLength): MessageLength {
  return (buf) => {
    // Two bytes ("LM") are common to both magics: let the wire check judge until the third.
    if (buf.length < 3) return inner(buf);
    const n = Math.min(buf.length, AUTH_MAGIC.length);
    for (let i = 0; i < n; i++) if (buf[i] !== AUTH_MAGIC[i]) return inner(buf);
    if (buf.length <= 4) return null;
    const bytes = MESSAGE_BYTES[buf[4]];
    if (bytes === undefined) throw authError(`Unknown authentication message type ${buf[4]}`);
    return bytes;
  };
}

function message(type: number, reason: number, ...body: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(MESSAGE_BYTES[type]);
  out.set(AUTH_MAGIC, 0);
  out[4] = type;
  out[5] = VERSION;
  out[6] = reason;
  let at = HEADER_BYTES;
  for (const b of body) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

function mac(key: Uint8Array, label: Buffer, a: Uint8Array, b: Uint8Array): Buffer {
  return createHmac('sha256', key).update(label).update(a).update(b).digest();
}

/** Reads the next handshake message, which must be one of `expected`; returns type, reason, body. */
async function read(
  it: AsyncIterator<Uint8Array>, expected: number[], peer: string,
): Promise<{ type: number; reason: number; body: Uint8Array }> {
  const r = await it.next();
  if (r.done) throw authError(`The ${peer} closed the connection during authentication; check that it uses the same --key-file`);
  const m = r.value;
  const magicOk = m.length >= HEADER_BYTES && AUTH_MAGIC.every((b, i) => m[i] === b);
  if (!magicOk) {
    throw Object.assign(authError(`The ${peer} did not authenticate (its first message is not a livemig authentication message); `
      + 'give both sides the same --key-file'), { unauthenticated: true });
  }
  if (m[5] !== VERSION) throw authError(`The ${peer} speaks authentication version ${m[5]}, this side ${VERSION}`);
  if (!expected.includes(m[4])) throw authError(`Unexpected authentication message type ${m[4]} from the ${peer}`);
  return { type: m[4], reason: m[6], body: m.subarray(HEADER_BYTES) };
}

/** Sends `message`, closes our side and waits briefly for the peer to hang up, so it reads the message before any reset. */
async function refuse(channel: Channel, message: Uint8Array): Promise<void> {
  const timer = setTimeout(() => channel.destroy(), 2000);
  try {
    await channel.send(message, { barrier: true });
    await channel.close();
    for await (const _ of channel) { /* discard until the peer hangs up */ }
  } catch {
    // Already gone.
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the handshake on a fresh channel as `role` ('connect': the side that opened it) and resolves
 * with the same channel once both sides have proved the key. On failure the channel is destroyed
 * and the promise rejects with LIVEMIG_E_AUTH (wrong key, not a livemig peer),
 * LIVEMIG_E_TRANSPORT_TIMEOUT (no answer within handshakeTimeoutMs) or the channel's own error
 * (garbage that is not even a frame, a reset).
 */
export async function authenticateChannel(channel: Channel, role: 'connect' | 'listen', options: AuthOptions): Promise<Channel> {
  const key = validateKey(options.key);
  const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS;
  const peer = role === 'connect' ? 'receiver' : 'connecting peer';
  const it = channel[Symbol.asyncIterator]();
  let timedOut: LivemigError | undefined;
  const timer = setTimeout(() => {
    timedOut = new LivemigError(
      'LIVEMIG_E_TRANSPORT_TIMEOUT',
      `The ${peer} did not complete authentication within ${timeoutMs} ms; check that it runs livemig with --key-file`,
      { phase: 'handshake' },
    );
    channel.destroy(timedOut);
  }, timeoutMs);
  try {
    if (role === 'connect') {
      const nonceC = randomBytes(NONCE_BYTES);
      await channel.send(message(T.CHALLENGE, 0, nonceC), { barrier: true });
      const resp = await read(it, [T.RESPONSE], peer);
      const nonceS = resp.body.subarray(0, NONCE_BYTES);
      const macS = resp.body.subarray(NONCE_BYTES);
      if (!timingSafeEqual(macS, mac(key, LABEL_S, nonceC, nonceS))) {
        throw authError('The receiver could not prove the pre-shared key (its key differs from ours); give both sides the same --key-file');
      }
      await channel.send(message(T.PROOF, 0, mac(key, LABEL_C, nonceS, nonceC)), { barrier: true });
      const verdict = await read(it, [T.WELCOME, T.REFUSE], peer);
      if (verdict.type === T.REFUSE) {
        throw authError('The receiver refused our proof of the pre-shared key (the keys differ); give both sides the same --key-file');
      }
    } else {
      const challenge = await read(it, [T.CHALLENGE], peer);
      const nonceC = challenge.body;
      const nonceS = randomBytes(NONCE_BYTES);
      await channel.send(message(T.RESPONSE, 0, nonceS, mac(key, LABEL_S, nonceC, nonceS)), { barrier: true });
      const proof = await read(it, [T.PROOF], peer);
      if (!timingSafeEqual(proof.body, mac(key, LABEL_C, nonceS, nonceC))) {
        // Tell the peer why before dropping it; best effort.
        await channel.send(message(T.REFUSE, REFUSE_BAD_PROOF), { barrier: true }).catch(() => {});
        await channel.close().catch(() => {});
        throw authError('The connecting peer failed to prove the pre-shared key (wrong key)');
      }
      await channel.send(message(T.WELCOME, 0), { barrier: true });
    }
    return channel;
  } catch (err) {
    let e = timedOut ?? err;
    if (!(e instanceof LivemigError) || (e.code !== 'LIVEMIG_E_AUTH' && e.code !== 'LIVEMIG_E_TRANSPORT_TIMEOUT')) {
      // A reset or bytes that are not even a frame: still a failed authentication, with the reason kept.
      e = authError(`The ${peer} failed authentication: ${(e as Error)?.message ?? String(e)}`, e);
    }
    if (role === 'listen' && options.refusalMessage && (e as LivemigError & { unauthenticated?: boolean }).unauthenticated) {
      await refuse(channel, options.refusalMessage(e as Error));
    }
    channel.destroy(e as Error);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
