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

/** The minimal channel surface a throughput run needs. */
interface ByteChannel extends AsyncIterable<Uint8Array> {
  send(message: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * Sends `totalBytes` as copies of `message` from `a` to `b`, checks that all of it arrived, and
 * returns MiB/s measured from the first send to the last byte received.
 */
export async function timeTransfer(a: ByteChannel, b: ByteChannel, message: Uint8Array, totalBytes: number): Promise<number> {
  const received = (async () => {
    let got = 0;
    for await (const m of b) got += m.length;
    if (got !== totalBytes) throw new Error(`received ${got} of ${totalBytes} bytes`);
    return performance.now();
  })();
  const start = performance.now();
  for (let sent = 0; sent < totalBytes; sent += message.length) await a.send(message);
  await a.close();
  const end = await received;
  return totalBytes / (1024 * 1024) / ((end - start) / 1000);
}
