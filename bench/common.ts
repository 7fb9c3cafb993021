/** Small helpers the benchmarks share. */

/** The middle value (the upper one of an even count): a summary robust to one slow repetition. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Options of the throughput benchmarks: `--json`, `--mib N` (bytes to move), `--reps N`. */
export interface ThroughputArgs {
  json: boolean;
  totalBytes: number;
  reps: number;
}

/** Parses `--json`, `--mib N` and `--reps N`, with precise errors. @default 512 MiB, 3 reps */
export function parseThroughputArgs(argv: string[]): ThroughputArgs {
  const opts: ThroughputArgs = { json: false, totalBytes: 512 * 1024 * 1024, reps: 3 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') opts.json = true;
    else if (arg === '--mib' || arg === '--reps') {
      const n = Number(argv[++i]);
      if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`Expected ${arg} to be a positive integer, got '${argv[i]}'`);
      if (arg === '--mib') opts.totalBytes = n * 1024 * 1024;
      else opts.reps = n;
    } else throw new Error(`Unknown argument '${arg}'; expected --json, --mib N or --reps N`);
  }
  return opts;
}
