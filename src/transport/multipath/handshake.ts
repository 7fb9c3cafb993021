/**
 * The subflow handshake (see PROTOCOL.md): the first subflow creates a session, every further one
 * joins it with the session token and an HMAC-SHA256 challenge-response (as MPTCP's MP_JOIN).
 *
 *   message   = magic "LMP1" type:u8 arg:u8 slot:u16 body
 *   HELLO     (1, arg = 1 create | 2 join)  body: token[16] (zeros on create) nonceC[16] windowBytes:u32
 *   CHALLENGE (2)                            body: token[16] nonceS[16] macS[32] windowBytes:u32
 *   PROOF     (3)                            body: macC[32]
 *   WELCOME   (4)                            body: empty
 *   REFUSE    (5, arg = reason)              body: empty
 *
 *   sessionKey = HMAC(psk or empty, "livemig-mp/1 session" | token | nonceC | nonceS)  of the creating subflow
 *   macS = HMAC(sessionKey, "S" | token | nonceC | nonceS | slot),  macC = the same with "C"
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { LivemigError } from '../../core/index.js';

const MAGIC = Buffer.from('LMP1', 'latin1');
const HEADER_BYTES = 8;
export const TOKEN_BYTES = 16;
const NONCE_BYTES = 16;
const MAC_BYTES = 32;

const HELLO = 1;
const CHALLENGE = 2;
const PROOF = 3;
const WELCOME = 4;
const REFUSE = 5;
const KIND_CREATE = 1;
const KIND_JOIN = 2;

/** Why a listener refused a subflow (REFUSE's arg). */
export const REFUSE_REASONS: Readonly<Record<number, string>> = {
  1: 'no session with that token',
  2: 'wrong proof (the keys differ)',
  3: 'the listener is closed',
  4: 'malformed handshake',
};
export const REFUSE_UNKNOWN_TOKEN = 1;
export const REFUSE_BAD_PROOF = 2;
export const REFUSE_CLOSED = 3;
export const REFUSE_MALFORMED = 4;

const BODY_BYTES: Readonly<Record<number, number>> = {
  [HELLO]: TOKEN_BYTES + NONCE_BYTES + 4,
  [CHALLENGE]: TOKEN_BYTES + NONCE_BYTES + MAC_BYTES + 4,
  [PROOF]: MAC_BYTES,
  [WELCOME]: 0,
  [REFUSE]: 0,
};

function authError(message: string, cause?: unknown): LivemigError {
  return new LivemigError('LIVEMIG_E_AUTH', message, { phase: 'transport', cause });
}

/** Reads exact byte counts from a socket during the handshake, then hands over what is left. */
class HandshakeReader {
  readonly #socket: Socket;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #want: { n: number; resolve(b: Buffer): void; reject(err: unknown): void } | undefined;
  #error: unknown;
  readonly #timer: NodeJS.Timeout;
  readonly #onData = (chunk: Buffer): void => {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    this.#serve();
  };
  readonly #onError = (err: Error): void => this.#failWith(authError(`The subflow failed during its handshake: ${err.message}`, err));
  readonly #onEnd = (): void => this.#failWith(authError('The peer closed the subflow during its handshake'));

  constructor(socket: Socket, timeoutMs: number) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('error', this.#onError);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    this.#timer = setTimeout(() => this.#failWith(new LivemigError(
      'LIVEMIG_E_TRANSPORT_TIMEOUT', `The subflow handshake did not finish within ${timeoutMs} ms (handshakeTimeoutMs)`,
    )), timeoutMs);
  }

  /** Reads one message; checks magic, type and body size. */
  async message(expected: number[]): Promise<{ type: number; arg: number; slot: number; body: Buffer }> {
    const header = await this.#read(HEADER_BYTES);
    if (!header.subarray(0, 4).equals(MAGIC)) throw authError('The peer does not speak the livemig multipath protocol (bad magic)');
    const type = header[4];
    if (!expected.includes(type)) throw authError(`Unexpected multipath handshake message type ${type}`);
    const body = await this.#read(BODY_BYTES[type]);
    return { type, arg: header[5], slot: header.readUInt16BE(6), body };
  }

  /** Stops reading; returns bytes that arrived after the handshake (the first data frames). */
  release(): Buffer {
    clearTimeout(this.#timer);
    const s = this.#socket;
    s.off('data', this.#onData);
    s.off('error', this.#onError);
    s.off('end', this.#onEnd);
    s.off('close', this.#onEnd);
    s.pause();
    return Buffer.concat(this.#chunks);
  }

  #read(n: number): Promise<Buffer> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#want = { n, resolve, reject };
      this.#serve();
    });
  }

  #serve(): void {
    const want = this.#want;
    if (want === undefined || this.#buffered < want.n) return;
    const all = Buffer.concat(this.#chunks);
    this.#chunks = all.length > want.n ? [all.subarray(want.n)] : [];
    this.#buffered -= want.n;
    this.#want = undefined;
    want.resolve(all.subarray(0, want.n));
  }

  #failWith(err: unknown): void {
    if (this.#error !== undefined) return;
    this.#error = err;
    const want = this.#want;
    this.#want = undefined;
    want?.reject(err);
  }
}

function message(type: number, arg: number, slot: number, ...body: Uint8Array[]): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(h, 0);
  h[4] = type;
  h[5] = arg;
  h.writeUInt16BE(slot, 6);
  return Buffer.concat([h, ...body]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(Math.min(n, 2 ** 32 - 1));
  return b;
}

function deriveSessionKey(psk: Uint8Array, token: Uint8Array, nonceC: Uint8Array, nonceS: Uint8Array): Buffer {
  return createHmac('sha256', psk).update('livemig-mp/1 session').update(token).update(nonceC).update(nonceS).digest();
}

function mac(key: Uint8Array, who: 'S' | 'C', token: Uint8Array, nonceC: Uint8Array, nonceS: Uint8Array, slot: number): Buffer {
  const s = Buffer.alloc(2);
  s.writeUInt16BE(slot);
  return createHmac('sha256', key).update(who).update(token).update(nonceC).update(nonceS).update(s).digest();
}

function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The result of a finished handshake. */
export interface Handshaken {
  token: Buffer;
  sessionKey: Buffer;
  slot: number;
  /** The peer's receive window, in bytes. */
  peerWindowBytes: number;
  /** Bytes that arrived after the handshake, to be fed to the data-phase splitter. */
  leftover: Buffer;
}

/**
 * Connector side. `join` undefined creates a session (key = the pre-shared key, or empty);
 * otherwise joins session `join.token` with `join.sessionKey`. Rejects with LIVEMIG_E_AUTH.
 */
export async function clientHandshake(
  socket: Socket,
  args: { slot: number; psk: Uint8Array; windowBytes: number; timeoutMs: number; join?: { token: Buffer; sessionKey: Buffer } },
): Promise<Handshaken> {
  const reader = new HandshakeReader(socket, args.timeoutMs);
  try {
    const nonceC = randomBytes(NONCE_BYTES);
    const kind = args.join === undefined ? KIND_CREATE : KIND_JOIN;
    socket.write(message(HELLO, kind, args.slot, args.join?.token ?? Buffer.alloc(TOKEN_BYTES), nonceC, u32(args.windowBytes)));
    const reply = await reader.message([CHALLENGE, REFUSE]);
    if (reply.type === REFUSE) {
      throw authError(`The listener refused the subflow: ${REFUSE_REASONS[reply.arg] ?? `reason ${reply.arg}`}`);
    }
    const token = reply.body.subarray(0, TOKEN_BYTES);
    const nonceS = reply.body.subarray(TOKEN_BYTES, TOKEN_BYTES + NONCE_BYTES);
    const macS = reply.body.subarray(TOKEN_BYTES + NONCE_BYTES, TOKEN_BYTES + NONCE_BYTES + MAC_BYTES);
    const peerWindowBytes = reply.body.readUInt32BE(TOKEN_BYTES + NONCE_BYTES + MAC_BYTES);
    if (args.join !== undefined && !token.equals(args.join.token)) throw authError('The listener answered a join with another session token');
    const sessionKey = args.join?.sessionKey ?? deriveSessionKey(args.psk, token, nonceC, nonceS);
    if (!sameMac(macS, mac(sessionKey, 'S', token, nonceC, nonceS, args.slot))) {
      socket.write(message(REFUSE, REFUSE_BAD_PROOF, args.slot));
      throw authError('The listener could not prove the session key: the pre-shared keys differ (check key on both sides)');
    }
    socket.write(message(PROOF, 0, args.slot, mac(sessionKey, 'C', token, nonceC, nonceS, args.slot)));
    const done = await reader.message([WELCOME, REFUSE]);
    if (done.type === REFUSE) {
      throw authError(`The listener refused the subflow: ${REFUSE_REASONS[done.arg] ?? `reason ${done.arg}`}`);
    }
    return { token: Buffer.from(token), sessionKey, slot: args.slot, peerWindowBytes, leftover: reader.release() };
  } catch (err) {
    reader.release();
    throw err;
  }
}

/** What the listener knows: the pre-shared key and its sessions' keys by token. */
export interface ServerHandshakeArgs {
  psk: Uint8Array;
  windowBytes: number;
  timeoutMs: number;
  /** The session key of a live session with this token (hex), or undefined. */
  findSession(tokenHex: string): Buffer | undefined;
  /** False once the listener is closed for new sessions. */
  acceptingSessions(): boolean;
}

/** Listener side: LIVEMIG_E_AUTH (with `refusedJoin` telling which counter) on refusal. */
export async function serverHandshake(socket: Socket, args: ServerHandshakeArgs): Promise<Handshaken & { created: boolean }> {
  const reader = new HandshakeReader(socket, args.timeoutMs);
  let join = false;
  const refuse = (reason: number, slot: number): LivemigError => {
    if (!socket.destroyed) socket.write(message(REFUSE, reason, slot));
    return Object.assign(authError(`Refused a subflow: ${REFUSE_REASONS[reason]}`), { refusedJoin: join });
  };
  try {
    let hello;
    try {
      hello = await reader.message([HELLO]);
    } catch (err) {
      throw Object.assign(err as Error, { refusedJoin: false });
    }
    const { slot } = hello;
    join = hello.arg === KIND_JOIN;
    if (hello.arg !== KIND_CREATE && !join) throw refuse(REFUSE_MALFORMED, slot);
    const nonceC = hello.body.subarray(TOKEN_BYTES, TOKEN_BYTES + NONCE_BYTES);
    const peerWindowBytes = hello.body.readUInt32BE(TOKEN_BYTES + NONCE_BYTES);
    const nonceS = randomBytes(NONCE_BYTES);
    let token: Buffer;
    let sessionKey: Buffer;
    if (join) {
      token = Buffer.from(hello.body.subarray(0, TOKEN_BYTES));
      const key = args.findSession(token.toString('hex'));
      if (key === undefined) throw refuse(REFUSE_UNKNOWN_TOKEN, slot);
      sessionKey = key;
    } else {
      if (!args.acceptingSessions()) throw refuse(REFUSE_CLOSED, slot);
      token = randomBytes(TOKEN_BYTES);
      sessionKey = deriveSessionKey(args.psk, token, nonceC, nonceS);
    }
    socket.write(message(CHALLENGE, 0, slot, token, nonceS, mac(sessionKey, 'S', token, nonceC, nonceS, slot), u32(args.windowBytes)));
    let proof;
    try {
      proof = await reader.message([PROOF, REFUSE]);
    } catch (err) {
      throw Object.assign(err as Error, { refusedJoin: join });
    }
    if (proof.type === REFUSE || !sameMac(proof.body, mac(sessionKey, 'C', token, nonceC, nonceS, slot))) {
      throw refuse(REFUSE_BAD_PROOF, slot);
    }
    // A join may race the session's end: look again before welcoming it.
    if (join && args.findSession(token.toString('hex')) === undefined) throw refuse(REFUSE_UNKNOWN_TOKEN, slot);
    socket.write(message(WELCOME, 0, slot));
    return { token, sessionKey, slot, peerWindowBytes, leftover: reader.release(), created: !join };
  } catch (err) {
    reader.release();
    throw err;
  }
}
