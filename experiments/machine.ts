import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

/** Where the results of a run came from: code, machine and its load. */
export interface MachineFacts {
  /** `git rev-parse HEAD` of the repository, and whether the work tree had changes. */
  commit: string;
  dirty: boolean | null;
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  /** 1, 5 and 15-minute load averages when the facts were taken. */
  loadavg: number[];
  hostname: string;
  date: string;
}

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** Takes the machine facts now (the load average changes: take them at the start and the end). */
export function machineFacts(): MachineFacts {
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    commit: git(['rev-parse', 'HEAD']) ?? 'unknown',
    dirty: status === null ? null : status.length > 0,
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    hostname: os.hostname(),
    date: new Date().toISOString(),
  };
}
