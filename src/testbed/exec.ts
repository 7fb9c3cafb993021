import { spawn, execFile, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { LivemigError } from '../core/index.js';
import { namespaceNames } from './options.js';
import type { TestbedSide } from './types.js';

/** A command's captured output. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/** Upper bound for one `ip`/`tc` call, in milliseconds; they normally take a few. */
const COMMAND_TIMEOUT_MS = 15_000;

/**
 * Runs a command (no shell) and resolves with its output; a non-zero exit becomes a
 * `LIVEMIG_E_TESTBED` error naming the command and quoting its stderr.
 */
export function run(file: string, args: readonly string[]): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const detail = String(stderr).trim() || err.message;
        reject(new LivemigError('LIVEMIG_E_TESTBED', `'${file} ${args.join(' ')}' failed: ${detail}`, { cause: err }));
      } else {
        resolve({ stdout: String(stdout), stderr: String(stderr) });
      }
    });
  });
}

/** Like `run`, but a failure resolves with null (for probes and best-effort teardown). */
export async function tryRun(file: string, args: readonly string[]): Promise<CommandOutput | null> {
  try {
    return await run(file, args);
  } catch {
    return null;
  }
}

/** Refuses to continue without root: namespaces, veths and qdiscs need CAP_SYS_ADMIN and CAP_NET_ADMIN. */
export function requireRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new LivemigError(
      'LIVEMIG_E_NOT_ROOT',
      `${what} needs root (it creates network namespaces, veth pairs and tbf qdiscs); run it with sudo or as root`,
    );
  }
}

/** Resolves `src`/`dst` to the default testbed's namespace; any other string is taken as a namespace name. */
export function resolveNamespace(ns: TestbedSide | string): string {
  if (ns === 'src') return namespaceNames().srcNs;
  if (ns === 'dst') return namespaceNames().dstNs;
  return ns;
}

/**
 * Starts a process inside a network namespace (`ip netns exec NS argv...`). `ip netns exec`
 * exec()s the program, so the child's pid is the program's own pid.
 *
 * @param ns `src` or `dst` (the default testbed's namespaces) or a namespace name such as `lm-x-src`.
 * @param argv program and arguments, e.g. `[process.execPath, 'dist/src/cli/main.js', 'receive', ...]`.
 * @param opts passed to `child_process.spawn` unchanged.
 */
export function runIn(ns: TestbedSide | string, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  requireRoot('running a process in a testbed namespace');
  if (argv.length === 0) throw new LivemigError('LIVEMIG_E_INVALID_OPTION', 'Expected a program to run inside the namespace, got an empty argv');
  return spawn('ip', ['netns', 'exec', resolveNamespace(ns), ...argv], opts);
}
