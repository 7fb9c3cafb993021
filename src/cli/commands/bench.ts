import { LivemigError } from '../../core/index.js';

export const BENCH_HELP = `livemig bench SUITE [--json] [suite options]

Suites:
  codecs      every page codec over page classes, with a page copy and naive references as baselines
  lz4         the LZ4 bindings: livemig's addon against node-lz4, lz4-napi and a naive TS codec
  cache       2way and direct caches against a Map baseline
  wire        building and parsing page batches
  transport   TCP channel throughput against a raw socket pipe
  migrate     whole migrations: workloads × codecs × guest sizes, capped and uncapped
  qemu        QEMU direct, XBZRLE, MPTCP and multifd+zstd against livemig through its proxy (loopback or testbed)
  qemu-stream QEMU stream through the proxy pipeline offline: parse, encode, decode, rebuild (vs a copy)
  blocks      multi-page blocks (16, 64 pages) against page-by-page records, wire bytes and time
  parallel    encoding in worker threads against inline, and whole migrations with 1 and 2 threads
  paths       tcp, mptcp and multipath over shaped testbed paths: aggregate, subflows, failover, congestion, migrations
  soak        back-and-forth migrations of one guest: RSS and open fds at start and end`;

type Suite = (argv: string[]) => Promise<unknown>;

// Benchmarks live in bench/, outside the library; they are loaded only when asked for.
const SUITES: Record<string, () => Promise<Suite>> = {
  codecs: async () => (await import('../../../bench/codecs.js')).main,
  lz4: async () => (await import('../../../bench/lz4-bindings.js')).main,
  cache: async () => (await import('../../../bench/cache.js')).main,
  wire: async () => (await import('../../../bench/wire.js')).main,
  transport: async () => (await import('../../../bench/transport.js')).main,
  migrate: async () => (await import('../../../bench/migrate.js')).main,
  parallel: async () => (await import('../../../bench/parallel.js')).main,
  blocks: async () => (await import('../../../bench/blocks.js')).main,
  paths: async () => (await import('../../../bench/paths.js')).main,
  soak: async () => (await import('../../../bench/soak.js')).main,
  qemu: async () => (await import('../../../bench/qemu.js')).main,
  'qemu-stream': async () => (await import('../../../bench/qemu-stream.js')).main,
};

export async function benchCommand(argv: string[]): Promise<number> {
  const [suite, ...rest] = argv;
  if (!suite || suite === '--help' || suite === '-h') {
    process.stdout.write(BENCH_HELP + '\n');
    return suite ? 0 : 2;
  }
  const load = SUITES[suite];
  if (!load) throw new LivemigError('LIVEMIG_E_INVALID_OPTION', `Expected a bench suite (${Object.keys(SUITES).join(', ')}), got '${suite}'`, { phase: 'cli' });
  await (await load())(rest);
  return 0;
}
