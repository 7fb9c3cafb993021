/**
 * Child-process entry of the fuzz harness: `node fuzz-child.js <options json> <progress file>`.
 * A separate process, not a worker, because a decoder stuck in native code cannot be terminated
 * from inside the process; the parent SIGKILLs this one instead. The index of the running case is
 * kept in the progress file so that the parent can name the case that hung.
 */

import { closeSync, openSync, writeSync } from 'node:fs';
import { fuzzDecoder, type FuzzOptions } from './harness.js';

const opts = JSON.parse(process.argv[2]) as FuzzOptions;
const fd = openSync(process.argv[3], 'w');
const word = new Int32Array(1);
const bytes = new Uint8Array(word.buffer);
const result = fuzzDecoder({
  ...opts,
  progress: (c) => {
    word[0] = c;
    writeSync(fd, bytes, 0, 4, 0);
  },
});
closeSync(fd);
process.send!(result, () => process.disconnect());
