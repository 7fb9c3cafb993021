import { LivemigError, stderrLogger, isLivemigError } from '../../core/index.js';
import { createGuest } from '../../guest/index.js';
import { runDestination, type DestinationReport } from '../../engine/index.js';
import { COMMON_OPTIONS } from '../options.js';
import { choiceOpt, endpointOpt, parseFlags } from '../args.js';
import { listenChannel, transportConfig } from '../transport-options.js';

export const RECEIVE_HELP = `livemig receive --listen HOST:PORT [--transport tcp|mptcp|multipath] [--once] [--verify pages|memory] [--json]

Waits for a source agent and receives guests, one session after another, until stopped (or after
one session with --once). Each guest is verified against the source's digest before it resumes.`;

/** `livemig receive`: the destination agent. */
export async function receiveCommand(argv: string[]): Promise<number> {
  const values = parseFlags(argv, { ...COMMON_OPTIONS, listen: { type: 'string' }, once: { type: 'boolean' }, verify: { type: 'string' }, fault: { type: 'string' }, transport: { type: 'string' } });
  if (values.help) return help();
  const endpoint = endpointOpt(values.listen as string | undefined, 'listen', true)!;
  // A fault injected after the pages are applied is only visible to a full rehash.
  const verify = choiceOpt(values, 'verify', ['memory', 'pages'] as const, values.fault ? 'memory' : 'pages');
  const log = stderrLogger(values.verbose === true);
  const corruptPage = parseFault(values.fault as string | undefined);
  const listener = await listenChannel(transportConfig({ transport: values.transport }), endpoint);
  log.info(`listening on ${listener.address.host}:${listener.address.port}`);
  process.send?.({ listening: listener.address });
  let failures = 0;
  try {
    for (;;) {
      const channel = await listener.accept();
      try {
        const report = await runDestination({
          channel, createGuest, verify, logger: log,
          beforeVerify: corruptPage === null ? undefined : (g) => { g.page(corruptPage)[0] ^= 0xff; },
        });
        emit(report, values.json === true);
      } catch (err) {
        failures++;
        log.info(`session failed: ${isLivemigError(err) ? `${err.code}: ` : ''}${(err as Error).message}`);
        if (values.json) process.stdout.write(JSON.stringify({ verified: false, error: describe(err) }) + '\n');
      }
      if (values.once) break;
    }
  } finally {
    await listener.close();
  }
  return failures > 0 ? 1 : 0;
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
