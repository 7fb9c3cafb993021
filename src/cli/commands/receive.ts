import { LivemigError, MiB, stderrLogger, isLivemigError, type Logger } from '../../core/index.js';
import { createGuest, type GuestDescription } from '../../guest/index.js';
import { runDestination, type DestinationReport } from '../../engine/index.js';
import type { Channel } from '../../transport/index.js';
import { encodeAbortFor } from '../../wire/index.js';
import { COMMON_OPTIONS } from '../options.js';
import { LingerChannel } from '../linger-channel.js';
import { choiceOpt, endpointOpt, intOpt, parseFlags } from '../args.js';
import { SECURITY_HELP, SECURITY_OPTIONS, listenChannel, listenerRefusals, transportConfig } from '../transport-options.js';

export const RECEIVE_HELP = `livemig receive --listen HOST:PORT [--transport tcp|mptcp|multipath] [--once] [--verify pages|full] [--json]

Waits for source agents and receives guests, several at once, until stopped (or after one session
with --once). Each guest is verified against the source's digest before it resumes. A refused,
failed or garbage session never stops the agent.

Verification:
  --verify pages|full      pages: the digest of the hashes of the pages as they were applied;
                           full: rehash all of this side's memory before the verdict, whatever
                           the source asked (default pages)

Limits:
  --max-sessions N         sessions served at once; more are refused with LIVEMIG_E_LIMIT (default 4)
  --max-guest-mib N        largest guest accepted, in MiB; larger are refused with LIVEMIG_E_LIMIT
                           (default 65536)
${SECURITY_HELP}`;

/** Default most sessions served at once. */
export const DEFAULT_MAX_SESSIONS = 4;
/** Default largest guest accepted, in MiB. */
export const DEFAULT_MAX_GUEST_MIB = 65536;

/** `livemig receive`: the destination agent. */
export async function receiveCommand(argv: string[]): Promise<number> {
  const values = parseFlags(argv, {
    ...COMMON_OPTIONS, ...SECURITY_OPTIONS, listen: { type: 'string' }, once: { type: 'boolean' }, verify: { type: 'string' },
    fault: { type: 'string' }, transport: { type: 'string' }, 'max-sessions': { type: 'string' }, 'max-guest-mib': { type: 'string' },
  });
  if (values.help) return help();
  const endpoint = endpointOpt(values.listen as string | undefined, 'listen', true)!;
  // A fault injected after the pages are applied is only visible to a full rehash. 'full' is the
  // name the source's --verify uses for the same rehash.
  const verify = choiceOpt(values, 'verify', ['pages', 'full'] as const, values.fault ? 'full' : 'pages') === 'full' ? 'memory' : 'pages';
  const log = stderrLogger(values.verbose === true);
  const corruptPage = parseFault(values.fault as string | undefined);
  const maxSessions = intOpt(values, 'max-sessions', DEFAULT_MAX_SESSIONS, 1, 1024);
  const maxGuestBytes = intOpt(values, 'max-guest-mib', DEFAULT_MAX_GUEST_MIB, 1, 2 ** 22) * MiB;
  const tcfg = transportConfig({ ...values, transport: values.transport });
  let refusedConnections = 0;
  const listener = await listenChannel(tcfg, endpoint, (err) => {
    refusedConnections++;
    log.info(`refused connection #${refusedConnections}: ${isLivemigError(err) ? `${err.code}: ` : ''}${(err as Error).message}`);
  });
  log.info(`listening on ${listener.address.host}:${listener.address.port}`);
  process.send?.({ listening: listener.address });
  const stop = (): void => void listener.close();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  let failures = 0;
  const active = new Set<Promise<void>>();
  const serve = async (channel: Channel): Promise<void> => {
    try {
      const report = await runDestination({
        channel: new LingerChannel(channel), verify, logger: log,
        createGuest: (d) => limitedGuest(d, maxGuestBytes),
        beforeVerify: corruptPage === null ? undefined : (g) => { g.page(corruptPage)[0] ^= 0xff; },
      });
      emit(report, values.json === true);
    } catch (err) {
      failures++;
      log.info(`session failed: ${isLivemigError(err) ? `${err.code}: ` : ''}${(err as Error).message}`);
      if (values.json) process.stdout.write(JSON.stringify({ verified: false, error: describe(err) }) + '\n');
    }
  };
  try {
    for (;;) {
      let channel: Channel;
      try {
        channel = await listener.accept();
      } catch (err) {
        // Closed by a signal: stop accepting; anything else is one bad connection, never the agent's end.
        if (isLivemigError(err, 'LIVEMIG_E_TRANSPORT_CLOSED')) break;
        refusedConnections++;
        log.info(`refused connection: ${(err as Error).message}`);
        continue;
      }
      if (active.size >= maxSessions) {
        failures++;
        void refuseBusy(channel, maxSessions, log);
        continue;
      }
      const task = serve(channel).finally(() => active.delete(task));
      active.add(task);
      if (values.once) {
        await task;
        break;
      }
    }
    await Promise.all(active);
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    await listener.close();
    const counts = listenerRefusals(listener);
    log.debug(`connections refused: ${counts?.refused ?? refusedConnections}`);
  }
  return failures > 0 ? 1 : 0;
}

/** Builds the destination guest unless it is over --max-guest-mib. */
function limitedGuest(d: GuestDescription, maxBytes: number): ReturnType<typeof createGuest> {
  if (d.memoryBytes > maxBytes) {
    return Promise.reject(new LivemigError(
      'LIVEMIG_E_LIMIT',
      `The guest has ${(d.memoryBytes / MiB).toFixed(0)} MiB of memory; this receiver accepts at most ${maxBytes / MiB} MiB (--max-guest-mib)`,
    ));
  }
  return createGuest(d);
}

/**
 * Turns a session away over --max-sessions: an ABORT the source reports as LIVEMIG_E_LIMIT, then
 * the channel is closed once the source has read it (or after 5 s).
 */
async function refuseBusy(channel: Channel, maxSessions: number, log: Logger): Promise<void> {
  const err = new LivemigError('LIVEMIG_E_LIMIT', `The receiver is already serving ${maxSessions} sessions (--max-sessions); retry later or raise its limit`);
  log.info(`refused a session: ${err.message}`);
  const timer = setTimeout(() => channel.destroy(), 5000);
  try {
    await channel.send(encodeAbortFor(err), { barrier: true });
    await channel.close();
    // Drain until the source hangs up, so our close is not turned into a reset before it reads the ABORT.
    for await (const _ of channel) { /* discard */ }
  } catch {
    // The source may already be gone.
  } finally {
    clearTimeout(timer);
    channel.destroy();
  }
}

function emit(r: DestinationReport, json: boolean): void {
  const { guest: _g, ...rest } = r;
  const out = { ...rest, 'max-rss': process.resourceUsage().maxRSS * 1024 };
  if (json) process.stdout.write(JSON.stringify(out) + '\n');
  else process.stderr.write(`livemig: session ${r.sessionId}: verified, ${r['pages-applied']} pages applied, self-check ${r['self-check']?.ok ? 'passed' : r['self-check'] ? 'FAILED' : 'not run'}\n`);
}

function describe(err: unknown): { code: string; phase: string; message: string } {
  return isLivemigError(err) ? { code: err.code, phase: err.phase, message: err.message } : { code: 'LIVEMIG_E_INTERNAL', phase: 'setup', message: String((err as Error)?.message ?? err) };
}

// --fault corrupt-page=N flips a byte of page N before verification: for tests of the verify path.
function parseFault(text: string | undefined): number | null {
  if (text === undefined) return null;
  const m = /^corrupt-page=(\d+)$/.exec(text);
  if (!m) throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected --fault to be corrupt-page=N, got '${text}'`, { phase: 'cli' });
  return Number(m[1]);
}

function help(): number {
  process.stdout.write(RECEIVE_HELP + '\n');
  return 0;
}
