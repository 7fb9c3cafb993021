import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LivemigError } from '../core/index.js';
import type { CongestionRecord, TestbedConfig } from './types.js';

/**
 * Where testbed state files live: `$LIVEMIG_TESTBED_STATE_DIR`, else `/run/livemig-testbed`
 * (tmpfs, so a reboot, which also removes the namespaces, forgets them too).
 */
export function stateDir(): string {
  return process.env.LIVEMIG_TESTBED_STATE_DIR ?? '/run/livemig-testbed';
}

/** What a testbed's state file holds. */
export interface TestbedState {
  version: 1;
  config: TestbedConfig;
  /** When `up` built it, ms since the epoch. */
  createdAtMs: number;
  /** Background cross-traffic flows (finished ones are pruned on every read by status/down). */
  congestion: CongestionRecord[];
}

export function statePath(name: string): string {
  return join(stateDir(), `${name}.json`);
}

/** The state of testbed `name`, or null when none was recorded. */
export async function readState(name: string): Promise<TestbedState | null> {
  let text: string;
  try {
    text = await readFile(statePath(name), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new LivemigError('LIVEMIG_E_TESTBED', `cannot read the testbed state file ${statePath(name)}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const state = JSON.parse(text) as TestbedState;
    if (state.version !== 1 || !state.config || !Array.isArray(state.config.paths)) throw new Error('unexpected shape');
    state.congestion ??= [];
    return state;
  } catch (err) {
    // A corrupt file must not wedge the testbed: treat it as unknown; `up` rebuilds, `down` removes by name.
    return null;
  }
}

/** Writes the state atomically (write + rename), so a reader never sees half a file. */
export async function writeState(state: TestbedState): Promise<void> {
  await mkdir(stateDir(), { recursive: true, mode: 0o755 });
  const path = statePath(state.config.name);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o644 });
  await rename(tmp, path);
}

/** Removes the state file and the logs of the testbed's background cross traffic. */
export async function removeState(name: string): Promise<void> {
  await rm(statePath(name), { force: true });
  const logs = (await readdir(stateDir()).catch(() => [] as string[])).filter((f) => f.startsWith(`${name}-congest-`) && f.endsWith('.log'));
  for (const f of logs) await rm(join(stateDir(), f), { force: true });
}
