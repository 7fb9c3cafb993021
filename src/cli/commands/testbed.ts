import { LivemigError } from '../../core/index.js';
import {
  DEFAULT_QUEUE_LATENCY_MS, MAX_PATHS, formatRate, namespaceNames, parseRate, parseRateList, runIn, setPathState,
  startCongestion, testbedDown, testbedStatus, testbedUp, type TestbedStatus,
} from '../../testbed/index.js';
import { choiceOpt, intOpt, numOpt, parseFlags } from '../args.js';

export const TESTBED_HELP = `livemig testbed up|down|status|congest|path|exec [options]   (needs root)

Two network namespaces, lm-src and lm-dst, stand in for the hosts; path i is a veth pair
10.77.i.1 (lm-src) <-> 10.77.i.2 (lm-dst), shaped with tbf on both directions; TCP over a path uses
cubic; an MPTCP connection to 10.77.0.2 opens one subflow per path.

  up      [--paths N] [--rate 1gbit | --rate 1gbit,300mbit] [--queue-ms 20]
          builds the testbed (again only if the configuration differs)           defaults: 2 paths, 1gbit
  down    removes the namespaces, their links and every process inside them
  status  [--sample-ms MS] configuration and per-path state, shaped rate, bytes; MS samples throughput
  congest --path N --rate R|max --seconds S [--port P] [--background]
          cross traffic on one path that stops by itself after S seconds
  path    --path N --state up|down   takes a path's link down or up
  exec    --side src|dst -- PROGRAM [ARGS...]   runs a program inside a namespace

Common: --name NAME (testbed lm-NAME-src/dst instead of lm-src/dst), --json`;

const COMMON = {
  name: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = Record<string, string | boolean | undefined>;

/** `livemig testbed ...`: the network testbed. */
export async function testbedCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(TESTBED_HELP + '\n');
    return sub ? 0 : 2;
  }
  switch (sub) {
    case 'up': return up(rest);
    case 'down': return down(rest);
    case 'status': return status(rest);
    case 'congest': return congest(rest);
    case 'path': return path(rest);
    case 'exec': return exec(rest);
    default:
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected a testbed command (up, down, status, congest, path, exec), got '${sub}'`, { phase: 'cli' });
  }
}

function name(values: Flags): string | undefined {
  return typeof values.name === 'string' ? values.name : undefined;
}

function print(values: Flags, json: unknown, text: string): void {
  process.stdout.write(values.json ? JSON.stringify(json) + '\n' : text + '\n');
}

function helpIfAsked(values: Flags): boolean {
  if (values.help) process.stdout.write(TESTBED_HELP + '\n');
  return values.help === true;
}

async function up(argv: string[]): Promise<number> {
  const values = parseFlags(argv, { ...COMMON, paths: { type: 'string' }, rate: { type: 'string' }, 'queue-ms': { type: 'string' } });
  if (helpIfAsked(values)) return 0;
  const rates = typeof values.rate === 'string' ? parseRateList(values.rate) : [1e9];
  const paths = intOpt(values, 'paths', rates.length > 1 ? rates.length : 2, 1, MAX_PATHS);
  const result = await testbedUp({
    name: name(values),
    paths,
    rateBitsPerSec: rates.length === 1 ? rates[0] : rates,
    queueLatencyMs: numOpt(values, 'queue-ms', DEFAULT_QUEUE_LATENCY_MS, 1, 10_000),
  });
  const c = result.config;
  print(values, result, `testbed ${c.srcNs} <-> ${c.dstNs}: ${c.paths.length} path(s) ${c.paths.map((p) => formatRate(p.rateBitsPerSec)).join(', ')}`
    + (result.changed ? ' (built)' : ' (already up, unchanged)'));
  return 0;
}

async function down(argv: string[]): Promise<number> {
  const values = parseFlags(argv, COMMON);
  if (helpIfAsked(values)) return 0;
  const result = await testbedDown({ name: name(values) });
  print(values, result, result.removed.length ? `removed ${result.removed.join(', ')}` : 'nothing to remove');
  return 0;
}

async function status(argv: string[]): Promise<number> {
  const values = parseFlags(argv, { ...COMMON, 'sample-ms': { type: 'string' } });
  if (helpIfAsked(values)) return 0;
  const s = await testbedStatus({ name: name(values), sampleMs: intOpt(values, 'sample-ms', 0, 0, 60_000) });
  print(values, s, describeStatus(s, name(values)));
  return s.up && s.problems.length === 0 ? 0 : 1;
}

function describeStatus(s: TestbedStatus, testbedName: string | undefined): string {
  if (!s.config) {
    const { srcNs, dstNs } = namespaceNames(testbedName);
    return [`testbed ${srcNs}/${dstNs}: down`, ...s.problems.map((p) => `  problem: ${p}`)].join('\n');
  }
  const c = s.config;
  const rows = s.paths.map((p) => {
    const shaped = p.shapedSrcBitsPerSec === null ? 'none' : formatRate(p.shapedSrcBitsPerSec);
    const sampled = p.sampledTxBitsPerSec === undefined ? '' : `  now ${formatRate(p.sampledTxBitsPerSec)}/s`;
    return `  path ${p.index}  ${p.srcAddr} (${p.srcDev}) -> ${p.dstAddr} (${p.dstDev})  ${p.state}${p.lowerUp ? '' : ' no-carrier'}`
      + `  rate ${formatRate(p.rateBitsPerSec)} (tbf ${shaped})  sent ${p.txBytes} B  drops ${p.drops}${sampled}`;
  });
  return [
    `testbed '${c.name}': ${c.srcNs} <-> ${c.dstNs}, ${s.up ? 'up' : 'DOWN'}, congestion control ${c.congestionControl}, tbf queue ${c.queueLatencyMs} ms`,
    ...rows,
    `  mptcp endpoints (${c.dstNs}): ${s.mptcpEndpoints.length ? s.mptcpEndpoints.join('; ') : 'none'}`,
    ...s.congestion.map((f) => `  cross traffic on path ${f.path}: pids ${f.pids.join(', ')} until ${new Date(f.untilMs).toISOString()}`),
    ...s.problems.map((p) => `  problem: ${p}`),
  ].join('\n');
}

async function congest(argv: string[]): Promise<number> {
  const values = parseFlags(argv, {
    ...COMMON, path: { type: 'string' }, rate: { type: 'string' }, seconds: { type: 'string' },
    port: { type: 'string' }, background: { type: 'boolean' },
  });
  if (helpIfAsked(values)) return 0;
  if (values.path === undefined || values.rate === undefined || values.seconds === undefined) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', 'Expected --path N, --rate R|max and --seconds S', { phase: 'cli' });
  }
  const rate = values.rate === 'max' ? null : parseRate(String(values.rate), '--rate');
  const flow = await startCongestion({
    name: name(values),
    path: intOpt(values, 'path', 0, 0, MAX_PATHS - 1),
    rateBitsPerSec: rate,
    seconds: numOpt(values, 'seconds', 10, 0.001, 3600),
    port: values.port === undefined ? undefined : intOpt(values, 'port', 0, 1, 65535),
    background: values.background === true,
  });
  if (values.background) {
    print(values, { path: flow.path, pids: flow.pids }, `cross traffic on path ${flow.path} started (pids ${flow.pids.join(', ')})`);
    return 0;
  }
  const result = await flow.done;
  print(values, result, result ? `path ${result.path}: ${result.bytes} B in ${result.seconds.toFixed(2)} s = ${formatRate(result.bitsPerSec)}/s` : 'done');
  return 0;
}

async function path(argv: string[]): Promise<number> {
  const values = parseFlags(argv, { ...COMMON, path: { type: 'string' }, state: { type: 'string' } });
  if (helpIfAsked(values)) return 0;
  if (values.path === undefined || values.state === undefined) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', 'Expected --path N and --state up|down', { phase: 'cli' });
  }
  const index = intOpt(values, 'path', 0, 0, MAX_PATHS - 1);
  const state = choiceOpt(values, 'state', ['up', 'down'] as const, 'up');
  await setPathState(index, state, { name: name(values) });
  print(values, { path: index, state }, `path ${index} ${state}`);
  return 0;
}

async function exec(argv: string[]): Promise<number> {
  const cut = argv.indexOf('--');
  const values = parseFlags(cut < 0 ? argv : argv.slice(0, cut), { ...COMMON, side: { type: 'string' } });
  if (helpIfAsked(values)) return 0;
  const program = cut < 0 ? [] : argv.slice(cut + 1);
  if (program.length === 0) throw new LivemigError('LIVEMIG_E_INVALID_OPTION', 'Expected -- PROGRAM [ARGS...] after the options', { phase: 'cli' });
  const side = choiceOpt(values, 'side', ['src', 'dst'] as const, 'src');
  const names = namespaceNames(name(values));
  const child = runIn(side === 'src' ? names.srcNs : names.dstNs, program, { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
  });
}
