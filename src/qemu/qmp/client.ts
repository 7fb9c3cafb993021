/**
 * A QMP (QEMU Machine Protocol) client over a UNIX socket.
 *
 *   QEMU -> {"QMP": {"version": ..., "capabilities": [...]}}          greeting
 *   us   -> {"execute": "qmp_capabilities", "id": 1}                   leave negotiation mode
 *   QEMU -> {"return": {}, "id": 1}
 *   us   -> {"execute": NAME, "arguments": {...}, "id": N}
 *   QEMU -> {"return": ..., "id": N} | {"error": {"class", "desc"}, "id": N}
 *   QEMU -> {"event": NAME, "data": {...}, "timestamp": {...}}         at any time
 *
 * Each message is one JSON object; QEMU ends each with CRLF. Replies carry our `id`, so commands
 * may be in flight concurrently.
 */
import { connect, type Socket } from 'node:net';
import { LivemigError } from '../../core/errors.js';

/** An asynchronous QMP event. */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  /** Host time of the event in microseconds since the epoch. */
  timestampUs: number;
}

/** The greeting's version block. */
export interface QmpGreeting {
  version: { qemu: { major: number; minor: number; micro: number }; package: string };
  capabilities: string[];
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Options of QmpClient.connect. */
export interface QmpConnectOptions {
  /** Give up connecting (including retries while QEMU creates the socket) after this long, @default 30000 ms */
  timeoutMs?: number;
  /** Per-command reply timeout, @default 60000 ms */
  commandTimeoutMs?: number;
  /** Events kept for `waitForEvent({ includePast: true })`, @default 1000 */
  eventLogSize?: number;
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A connected, negotiated QMP session. */
export class QmpClient {
  readonly greeting: QmpGreeting;
  #socket: Socket;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #events: QmpEvent[] = [];
  #eventLogSize: number;
  #listeners = new Set<(e: QmpEvent) => void>();
  #closed = false;
  #closeError: LivemigError | undefined;
  #commandTimeoutMs: number;
  #closeWaiters: (() => void)[] = [];

  private constructor(socket: Socket, greeting: QmpGreeting, opts: QmpConnectOptions) {
    this.#socket = socket;
    this.greeting = greeting;
    this.#eventLogSize = opts.eventLogSize ?? 1000;
    this.#commandTimeoutMs = opts.commandTimeoutMs ?? 60_000;
  }

  /**
   * Connects to QEMU's `-qmp unix:PATH,server=on,wait=off` socket, retrying while the socket does
   * not exist yet, reads the greeting and leaves capability-negotiation mode.
   */
  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    let lastErr: unknown;
    for (;;) {
      try {
        return await QmpClient.#connectOnce(path, opts, deadline);
      } catch (err) {
        lastErr = err;
        const code = (err as NodeJS.ErrnoException).code;
        // QEMU creates the socket a little after it starts: retry only "not there yet".
        if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() >= deadline) break;
        await delay(50);
      }
    }
    if (lastErr instanceof LivemigError) throw lastErr;
    throw new LivemigError('LIVEMIG_E_QMP_CONNECT', `cannot connect to QMP socket ${path}: ${String(lastErr)}`, {
      cause: lastErr,
    });
  }

  static async #connectOnce(path: string, opts: QmpConnectOptions, deadline: number): Promise<QmpClient> {
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.removeAllListeners('error');
    // Read the greeting by hand; the client's line reader takes over after it.
    const lines = QmpClient.#lineReader(socket);
    const greetingLine = await QmpClient.#withDeadline(lines.next(), deadline, 'the QMP greeting', socket);
    let greeting: QmpGreeting;
    try {
      const msg = JSON.parse(greetingLine) as { QMP?: QmpGreeting };
      if (!msg.QMP) throw new Error('no "QMP" key');
      greeting = msg.QMP;
    } catch (err) {
      socket.destroy();
      throw new LivemigError('LIVEMIG_E_QMP_PROTOCOL', `bad QMP greeting from ${path}: ${greetingLine.slice(0, 200)}`, {
        cause: err,
      });
    }
    const client = new QmpClient(socket, greeting, opts);
    client.#pump(lines);
    socket.on('error', (err) => client.#fail(new LivemigError('LIVEMIG_E_QMP_CLOSED', `QMP socket error: ${err.message}`)));
    socket.on('close', () => client.#fail(new LivemigError('LIVEMIG_E_QMP_CLOSED', 'QMP connection closed')));
    try {
      await client.execute('qmp_capabilities');
    } catch (err) {
      client.close();
      throw new LivemigError('LIVEMIG_E_QMP_CONNECT', `QMP capability negotiation failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return client;
  }

  static async #withDeadline<T>(p: Promise<IteratorResult<T>>, deadline: number, what: string, socket: Socket): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new LivemigError('LIVEMIG_E_QMP_TIMEOUT', `no ${what} within the timeout`)),
        Math.max(0, deadline - Date.now()),
      );
    });
    try {
      const r = await Promise.race([p, timeout]);
      if (r.done) throw new LivemigError('LIVEMIG_E_QMP_CONNECT', `QMP socket closed before ${what}`);
      return r.value;
    } catch (err) {
      socket.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Splits the socket's bytes into lines; one async iterator shared by greeting and pump. */
  static #lineReader(socket: Socket): AsyncIterator<string> {
    let buf = '';
    const queue: string[] = [];
    let waiter: ((r: IteratorResult<string>) => void) | undefined;
    let ended = false;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line.length === 0) continue;
        if (waiter) {
          const w = waiter;
          waiter = undefined;
          w({ value: line, done: false });
        } else queue.push(line);
      }
    });
    const end = (): void => {
      ended = true;
      if (waiter) waiter({ value: undefined, done: true });
      waiter = undefined;
    };
    socket.on('end', end);
    socket.on('close', end);
    return {
      next: () => {
        const line = queue.shift();
        if (line !== undefined) return Promise.resolve({ value: line, done: false });
        if (ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((r) => (waiter = r));
      },
    };
  }

  async #pump(lines: AsyncIterator<string>): Promise<void> {
    for (;;) {
      const r = await lines.next();
      if (r.done) return;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(r.value) as Record<string, unknown>;
      } catch (err) {
        this.#fail(new LivemigError('LIVEMIG_E_QMP_PROTOCOL', `QEMU sent a line that is not JSON: ${r.value.slice(0, 200)}`, { cause: err }));
        this.#socket.destroy();
        return;
      }
      this.#dispatch(msg);
    }
  }

  #dispatch(msg: Record<string, unknown>): void {
    if (typeof msg.event === 'string') {
      const ts = msg.timestamp as { seconds?: number; microseconds?: number } | undefined;
      const event: QmpEvent = {
        event: msg.event,
        data: (msg.data as Record<string, unknown>) ?? {},
        timestampUs: (ts?.seconds ?? 0) * 1e6 + (ts?.microseconds ?? 0),
      };
      this.#events.push(event);
      if (this.#events.length > this.#eventLogSize) this.#events.shift();
      for (const l of [...this.#listeners]) l(event);
      return;
    }
    const id = msg.id;
    const pending = typeof id === 'number' ? this.#pending.get(id) : undefined;
    if (!pending) return; // a reply to nobody (e.g. after a timeout): nothing to do
    this.#pending.delete(id as number);
    clearTimeout(pending.timer);
    if ('return' in msg) pending.resolve(msg.return);
    else if (msg.error && typeof msg.error === 'object') {
      const e = msg.error as { class?: string; desc?: string };
      pending.reject(new QmpCommandError(pending.command, e.class ?? 'GenericError', e.desc ?? 'no description'));
    } else pending.reject(new LivemigError('LIVEMIG_E_QMP_PROTOCOL', `reply to ${pending.command} has neither return nor error`));
  }

  #fail(err: LivemigError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = err;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new LivemigError(err.code, `${p.command}: ${err.message}`, { cause: err }));
    }
    this.#pending.clear();
    for (const w of this.#closeWaiters) w();
    this.#closeWaiters = [];
  }

  /** True once the connection has closed (QEMU quit, or close() was called). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs one QMP command and returns its `return` value.
   * @throws QmpCommandError (LIVEMIG_E_QMP_COMMAND) when QEMU answers with an error;
   *   LIVEMIG_E_QMP_TIMEOUT / LIVEMIG_E_QMP_CLOSED otherwise.
   */
  execute<T = unknown>(command: string, args?: object, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new LivemigError('LIVEMIG_E_QMP_CLOSED', `${command}: ${this.#closeError?.message ?? 'closed'}`));
    }
    const id = this.#nextId++;
    const timeoutMs = opts.timeoutMs ?? this.#commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new LivemigError('LIVEMIG_E_QMP_TIMEOUT', `QMP ${command} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      const msg = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.#socket.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** Calls `listener` for every event from now on; returns a function that unsubscribes it. */
  onEvent(listener: (e: QmpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The events received so far (the last `eventLogSize`). */
  get events(): readonly QmpEvent[] {
    return this.#events;
  }

  /**
   * Resolves with the next event named `name` (and matching `filter`).
   * @param opts.timeoutMs @default 60000
   * @param opts.includePast also accept an event already in the log, @default false
   */
  waitForEvent(
    name: string,
    opts: { timeoutMs?: number; includePast?: boolean; filter?: (e: QmpEvent) => boolean } = {},
  ): Promise<QmpEvent> {
    const match = (e: QmpEvent): boolean => e.event === name && (opts.filter?.(e) ?? true);
    if (opts.includePast) {
      const past = this.#events.find(match);
      if (past) return Promise.resolve(past);
    }
    if (this.#closed) return Promise.reject(new LivemigError('LIVEMIG_E_QMP_CLOSED', `waiting for ${name}: connection closed`));
    const timeoutMs = opts.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        off();
        this.#closeWaiters = this.#closeWaiters.filter((w) => w !== onClose);
      };
      const off = this.onEvent((e) => {
        if (match(e)) {
          done();
          resolve(e);
        }
      });
      const onClose = (): void => {
        done();
        reject(new LivemigError('LIVEMIG_E_QMP_CLOSED', `waiting for ${name}: connection closed`));
      };
      this.#closeWaiters.push(onClose);
      const timer = setTimeout(() => {
        done();
        reject(new LivemigError('LIVEMIG_E_QMP_TIMEOUT', `no QMP event ${name} within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  /** Resolves when the connection has closed (e.g. after `quit`). */
  waitClosed(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((r) => this.#closeWaiters.push(r));
  }

  /** Closes the connection; pending commands fail with LIVEMIG_E_QMP_CLOSED. */
  close(): void {
    this.#fail(new LivemigError('LIVEMIG_E_QMP_CLOSED', 'QMP client closed'));
    this.#socket.destroy();
  }
}

/** QEMU answered a command with `{"error": {"class", "desc"}}`. */
export class QmpCommandError extends LivemigError {
  /** QMP error class, e.g. "GenericError", "CommandNotFound". */
  readonly errorClass: string;
  readonly command: string;

  constructor(command: string, errorClass: string, desc: string) {
    super('LIVEMIG_E_QMP_COMMAND', `QMP ${command} failed (${errorClass}): ${desc}`);
    this.errorClass = errorClass;
    this.command = command;
  }
}
