/**
 * Shared pieces of the fault tests: a `livemig receive` agent in a child process, throwaway keys
 * and certificates in a temporary directory, and frame-type peeking for fault injection.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SendOptions } from '../../../src/transport/index.js';
import { DelegatingChannel } from '../../helpers/faulty-channel.js';

export const CLI = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

/** A running child agent: its port, its stderr so far, and a way to wait for its exit. */
export interface Agent {
  child: ChildProcess;
  port: number;
  stderr(): string;
  stdout(): string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `livemig receive --listen 127.0.0.1:0 ...args` and waits until it listens. */
export async function startReceiver(args: string[]): Promise<Agent> {
  const child = spawn(process.execPath, [CLI, 'receive', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  return agent(child, await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { listening?: { port: number } }) => (m.listening ? resolve(m.listening.port) : reject(new Error('bad message'))));
    child.once('exit', (code) => reject(new Error(`receive exited with ${code} before listening`)));
  }));
}

/** Starts `livemig <args>` (e.g. send) as a child. */
export function startCli(args: string[]): Agent {
  return agent(spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }), 0);
}

function agent(child: ChildProcess, port: number): Agent {
  let err = '';
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  return {
    child, port, exited, stderr: () => err, stdout: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      return exited;
    },
  };
}

/** A temporary directory with two different keys (key-a, key-b); `cleanup` removes it. */
export function tempKeys(): { dir: string; keyA: string; keyB: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-trust-'));
  const keyA = join(dir, 'key-a');
  const keyB = join(dir, 'key-b');
  writeFileSync(keyA, randomBytes(32), { mode: 0o600 });
  writeFileSync(keyB, randomBytes(32), { mode: 0o600 });
  return { dir, keyA, keyB, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Throwaway PKI made with the openssl CLI in `dir`: a CA, a server and a client certificate signed by
 * it (both for 127.0.0.1 and localhost), and a rogue CA with a client certificate of its own.
 */
export function makeCerts(dir: string): Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'rogueCa' | 'rogueCert' | 'rogueKey', string> {
  const p = (n: string) => join(dir, n);
  const ssl = (...a: string[]) => execFileSync('openssl', a, { stdio: 'pipe' });
  const ca = (name: string) => ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.crt`));
  const leaf = (name: string, caName: string) => {
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`));
    writeFileSync(p(`${name}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
    ssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${caName}.crt`), '-CAkey', p(`${caName}.key`), '-CAcreateserial',
      '-days', '1', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`));
  };
  ca('ca');
  ca('rogue-ca');
  leaf('server', 'ca');
  leaf('client', 'ca');
  leaf('rogue', 'rogue-ca');
  return {
    ca: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'), clientCert: p('client.crt'), clientKey: p('client.key'),
    rogueCa: p('rogue-ca.crt'), rogueCert: p('rogue.crt'), rogueKey: p('rogue.key'),
  };
}

/** The frame type byte of a wire frame (header offset 5). */
export function frameType(message: Uint8Array): number {
  return message.length >= 24 && message[0] === 0x4c && message[1] === 0x4d && message[2] === 0x49 ? message[5] : -1;
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once `pred()` holds, polling every 50 ms; rejects after `timeoutMs` naming `what`. */
export async function until(pred: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * A Channel wrapper that can go silent: after `stall()` its sends never complete (a peer that stops
 * writing) and its reads never return (a peer that stops reading), until `release(err)` fails them.
 */
export class StallingChannel extends DelegatingChannel {
  #stalled = false;
  #release: Array<(err: Error) => void> = [];
  /** Called with each outgoing message before it is sent (fault hooks). */
  onSend: ((message: Uint8Array) => void) | null = null;
  /** Called with each incoming message; return true to stall from that message on. */
  stallOnReceive: ((message: Uint8Array) => boolean) | null = null;

  stall(): void {
    this.#stalled = true;
  }

  /** Fails every stalled operation with `err`. */
  release(err: Error): void {
    for (const r of this.#release.splice(0)) r(err);
  }

  #hang<T>(): Promise<T> {
    return new Promise<T>((_, reject) => this.#release.push(reject));
  }

  override send(message: Uint8Array, options?: SendOptions): Promise<void> {
    this.onSend?.(message);
    return this.#stalled ? this.#hang() : super.send(message, options);
  }

  override [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const it = this.inner[Symbol.asyncIterator]();
    return {
      next: async () => {
        if (this.#stalled) return this.#hang();
        const r = await it.next();
        if (!r.done && this.stallOnReceive?.(r.value)) {
          this.#stalled = true;
          return this.#hang();
        }
        return r;
      },
    };
  }
}
