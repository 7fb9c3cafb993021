import type { ParseArgsConfig } from 'node:util';
import { LivemigError } from '../core/index.js';
import { connectMultipath, createTransport, type Channel, type Endpoint, type Listener, type TransportName } from '../transport/index.js';
import { checkFrame } from '../wire/index.js';
import { testbedStatus, type TestbedConfig } from '../testbed/index.js';
import { choiceOpt, intOpt, type Flags } from './args.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options that choose how the bytes travel (migrate, send, receive). */
export const TRANSPORT_OPTIONS: Options = {
  transport: { type: 'string' },
  paths: { type: 'string' },
  subflows: { type: 'string' },
  scheduler: { type: 'string' },
  testbed: { type: 'boolean' },
  'testbed-name': { type: 'string' },
};

export const TRANSPORT_HELP = `Transport:
  --transport T            tcp | mptcp | multipath (default tcp)
  --paths LIST             multipath: LOCAL>REMOTE address pairs (or REMOTE addresses),
                           comma-separated, one subflow each; the port is the target's
  --subflows N             multipath: subflows per path (default 1)
  --scheduler S            multipath: round-robin | least-queued | weighted (default least-queued)
  --testbed                run the source in the testbed's source namespace and the
                           destination in its destination namespace, over all its paths
  --testbed-name NAME      which testbed (default: the default one)`;

const SCHEDULERS = ['round-robin', 'least-queued', 'weighted'] as const;

export interface TransportConfig {
  transport: Exclude<TransportName, 'memory'>;
  paths: Array<{ local?: string; remote: string }> | null;
  subflows: number;
  scheduler: (typeof SCHEDULERS)[number];
  testbed: boolean;
  testbedName: string | undefined;
}

export function transportConfig(v: Flags): TransportConfig {
  const cfg: TransportConfig = {
    transport: choiceOpt(v, 'transport', ['tcp', 'mptcp', 'multipath'] as const, 'tcp'),
    paths: v.paths === undefined ? null : parsePaths(String(v.paths)),
    subflows: intOpt(v, 'subflows', 1, 1, 64),
    scheduler: choiceOpt(v, 'scheduler', SCHEDULERS, 'least-queued'),
    testbed: v.testbed === true,
    testbedName: v['testbed-name'] as string | undefined,
  };
  if (cfg.transport !== 'multipath' && (cfg.paths || v.subflows !== undefined || v.scheduler !== undefined)) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `--paths, --subflows and --scheduler apply to --transport multipath, not ${cfg.transport}`, { phase: 'cli' });
  }
  return cfg;
}

function parsePaths(text: string): Array<{ local?: string; remote: string }> {
  const paths = text.split(',').map((p) => p.trim()).filter(Boolean).map((p) => {
    const [a, b, extra] = p.split('>');
    if (extra !== undefined || !a || b === '') {
      throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected --paths to be LOCAL>REMOTE or REMOTE addresses, comma-separated, got '${text}'`, { phase: 'cli' });
    }
    return b === undefined ? { remote: a } : { local: a, remote: b };
  });
  if (paths.length === 0) throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected --paths to name at least one path, got '${text}'`, { phase: 'cli' });
  return paths;
}

/** The testbed's configuration, or a clear error when it is not up. */
export async function testbedConfig(name: string | undefined): Promise<TestbedConfig> {
  const status = await testbedStatus({ name });
  if (!status.up || !status.config) {
    throw new LivemigError('LIVEMIG_E_TESTBED', `No testbed${name ? ` '${name}'` : ''} is up: run 'livemig testbed up' first`, { phase: 'setup' });
  }
  return status.config;
}

/** Paths over every testbed path, source address to destination address. */
export function testbedPaths(tb: TestbedConfig): Array<{ local: string; remote: string }> {
  return tb.paths.map((p) => ({ local: p.srcAddr, remote: p.dstAddr }));
}

/** Opens the source's channel to `to` with the chosen transport. */
export function connectChannel(cfg: TransportConfig, to: Endpoint): Promise<Channel> {
  const common = { messageLength: checkFrame, connectTimeoutMs: 10_000 };
  if (cfg.transport === 'multipath') {
    const paths = (cfg.paths ?? [{ remote: to.host }]).map((p) => ({ local: p.local, remote: { host: p.remote, port: to.port } }));
    return connectMultipath({ ...common, paths, subflows: cfg.subflows, scheduler: cfg.scheduler });
  }
  return createTransport(cfg.transport).connect(to, common);
}

/** Listens for sources with the chosen transport. */
export function listenChannel(cfg: TransportConfig, at: Endpoint): Promise<Listener> {
  return createTransport(cfg.transport).listen(at, { messageLength: checkFrame });
}
