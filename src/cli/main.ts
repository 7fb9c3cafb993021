#!/usr/bin/env node
import { isLivemigError } from '../core/index.js';
import { migrateCommand } from './commands/migrate.js';
import { sendCommand } from './commands/send.js';
import { receiveCommand } from './commands/receive.js';
import { benchCommand } from './commands/bench.js';
import { testbedCommand } from './commands/testbed.js';
import { qemuCommand } from './commands/qemu.js';
import { experimentCommand } from './commands/experiment.js';

const USAGE = `livemig: live migration of VM memory by pre-copy, with XOR+LZ4 page deltas

Usage:
  livemig migrate [options]              migrate a synthetic guest between two local processes
  livemig send --to HOST:PORT [options]  migrate a guest to a receiving agent
  livemig receive --listen HOST:PORT     receive guests
  livemig bench SUITE                    benchmarks (livemig bench --help lists the suites)
  livemig testbed up|down|status|congest|path|exec   network namespaces as hosts (root)
  livemig qemu analyze|replay STREAM     QEMU migration streams: byte accounting, pipeline replay
  livemig qemu migrate|send|receive|demo live QEMU migration through livemig (proxy agents)
  livemig experiment NAME|all [--quick]  reproduce the paper's experiments (results/, charts)

'livemig COMMAND --help' lists a command's options.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  migrate: migrateCommand,
  send: sendCommand,
  receive: receiveCommand,
  bench: benchCommand,
  testbed: testbedCommand,
  qemu: qemuCommand,
  experiment: experimentCommand,
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return cmd ? 0 : 2;
  }
  const run = COMMANDS[cmd];
  if (!run) {
    process.stderr.write(`livemig: unknown command '${cmd}'\n\n${USAGE}\n`);
    return 2;
  }
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const json = process.argv.includes('--json');
    if (isLivemigError(err)) {
      process.stderr.write(`livemig: ${err.code} (${err.phase}): ${err.message}\n`);
      if (json) process.stdout.write(JSON.stringify({ status: 'failed', error: { code: err.code, phase: err.phase, message: err.message } }) + '\n');
      process.exitCode = err.code === 'LIVEMIG_E_INVALID_OPTION' ? 2 : 1;
    } else if ((err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`livemig: ${(err as Error).message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`livemig: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);

