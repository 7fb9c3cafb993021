import { once } from 'node:events';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { LivemigError } from '../core/index.js';
import { requireRoot, runIn } from './exec.js';
import { recordCongestion, requireTestbed, isAlive } from './testbed.js';
import { stateDir } from './state.js';
import type { CongestionHandle, CongestionOptions, CongestionResult } from './types.js';

/** First receiver port; path N's cross traffic listens on `BASE_PORT + N` unless told otherwise. */
export const CONGESTION_BASE_PORT = 5201;
/** Longest flow accepted, in seconds (cross traffic is bounded by design). */
export const MAX_CONGESTION_SECONDS = 3600;

function invalid(what: string, got: unknown): never {
  throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected ${what}, got '${String(got)}'`);
}

/**
 * Starts bounded cross traffic on one path: a receiver on the path's destination address in the
 * destination namespace and a sender in the source namespace, both livemig's own small Node
 * program (`cross-traffic.js`), which stop by themselves after `seconds`. The flow uses the
 * path's route, hence its tbf and cubic, like any other connection over that path.
 */
export async function startCongestion(options: CongestionOptions): Promise<CongestionHandle> {
  requireRoot('livemig testbed congest');
  const { path } = options;
  const rate = options.rateBitsPerSec ?? null;
  const { seconds } = options;
  if (!(Number.isFinite(seconds) && seconds > 0 && seconds <= MAX_CONGESTION_SECONDS)) {
    invalid(`--seconds to be a number from 0 to ${MAX_CONGESTION_SECONDS}`, seconds);
  }
  if (rate !== null && !(Number.isFinite(rate) && rate >= 8_000)) invalid('--rate to be at least 8kbit, or max', rate);
  const name = options.name;
  const state = await requireTestbed(name);
  const p = state.config.paths[path];
  if (!Number.isInteger(path) || !p) invalid(`--path to be a path number from 0 to ${state.config.paths.length - 1}`, path);
  const port = options.port ?? CONGESTION_BASE_PORT + path;
  if (!Number.isInteger(port) || port < 1 || port > 65535) invalid('--port to be a TCP port from 1 to 65535', port);

  const script = fileURLToPath(new URL('./cross-traffic.js', import.meta.url));
  const background = options.background ?? false;
  // A detached flow writes to a log beside the state file, so a failed start can be diagnosed.
  let logFd: number | undefined;
  if (background) {
    mkdirSync(stateDir(), { recursive: true });
    logFd = openSync(join(stateDir(), `${state.config.name}-congest-${path}.log`), 'w');
  }
  const detached: SpawnOptions = { detached: true, stdio: ['ignore', logFd, logFd] };
  const receiver = runIn(state.config.dstNs, [process.execPath, script, 'recv', p.dstAddr, String(port), String(seconds)],
    background ? detached : { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = background ? null : createInterface({ input: receiver.stdout! });
  const events = lines ? lines[Symbol.asyncIterator]() : null;
  if (events) {
    // Start the sender once the receiver listens, so a slow start is not mistaken for a refusal.
    const first = await Promise.race([events.next(), once(receiver, 'exit').then(() => null)]);
    if (!first || first.done) {
      throw new LivemigError('LIVEMIG_E_TESTBED', `the cross-traffic receiver on ${p.dstAddr}:${port} did not start (port in use?)`);
    }
  }
  const sender = runIn(state.config.srcNs,
    [process.execPath, script, 'send', p.dstAddr, String(port), String(seconds), rate === null ? 'max' : String(Math.round(rate))],
    background ? detached : { stdio: ['ignore', 'ignore', 'inherit'] });
  if (logFd !== undefined) closeSync(logFd);
  const children = [receiver, sender];
  const pids = children.map((c) => c.pid).filter((pid): pid is number => pid !== undefined);
  if (pids.length !== 2) {
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    throw new LivemigError('LIVEMIG_E_TESTBED', 'could not start the cross-traffic processes (is `ip` installed?)');
  }

  let done: Promise<CongestionResult | null> | undefined;
  if (background) {
    for (const c of children) c.unref();
    await recordCongestion(state.config.name, { path, pids, untilMs: Date.now() + seconds * 1000 });
  } else {
    done = receiverResult(receiver, events!, path);
    // Callers that never await `done` must not see an unhandled rejection.
    done.catch(() => undefined);
  }
  return {
    path,
    pids,
    // Polling starts only when asked: its timers would otherwise keep a caller (the CLI) alive.
    get done() {
      done ??= (async () => {
        while (pids.some(isAlive)) await sleep(200);
        return null;
      })();
      return done;
    },
    async stop() {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
      while (pids.some(isAlive)) await sleep(50);
    },
  };
}

async function receiverResult(
  receiver: ChildProcess, events: AsyncIterator<string>, path: number,
): Promise<CongestionResult> {
  const exited = once(receiver, 'exit');
  for (let next = await events.next(); !next.done; next = await events.next()) {
    const msg = JSON.parse(next.value) as { event: string; bytes: number; seconds: number; bitsPerSec: number };
    if (msg.event === 'result') {
      await exited;
      return { path, bytes: msg.bytes, seconds: msg.seconds, bitsPerSec: msg.bitsPerSec };
    }
  }
  const [code, sig] = (await exited) as [number | null, NodeJS.Signals | null];
  throw new LivemigError('LIVEMIG_E_TESTBED', `the cross-traffic receiver ended without a result (exit ${code ?? sig})`);
}
