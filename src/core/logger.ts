/** Progress and diagnostics go to stderr so stdout can carry exactly one JSON report. */
export interface Logger {
  info(msg: string): void;
  debug(msg: string): void;
}

export const silentLogger: Logger = { info: () => {}, debug: () => {} };

export function stderrLogger(verbose = false): Logger {
  return {
    info: (m) => process.stderr.write(`livemig: ${m}\n`),
    debug: (m) => {
      if (verbose) process.stderr.write(`livemig: ${m}\n`);
    },
  };
}
