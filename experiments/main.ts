#!/usr/bin/env node
/** `npm run experiments [-- --quick]`: every scenario (`livemig experiment all`). */
import { experimentMain } from './cli.js';

experimentMain(['all', ...process.argv.slice(2)]).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`experiments: ${err.message}\n`);
    process.exitCode = (err as { code?: string }).code === 'LIVEMIG_E_INVALID_OPTION' ? 2 : 1;
  },
);
