import { readFileSync } from 'node:fs';

/** CPU time the whole host has spent busy, from /proc/stat (Linux), ms; null elsewhere. */
export function hostBusyCpuMs(): number | null {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  // cpu  user nice system idle iowait irq softirq steal ... in USER_HZ ticks (100 per second on Linux).
  const f = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 7 || f.some((x) => !Number.isFinite(x))) return null;
  const [user, nice, system, , , irq, softirq] = f;
  return (user + nice + system + irq + softirq) * 10;
}

/** Measures the host's busy CPU over a span of work: call `end()` when the work is done. */
export function startHostCpuSpan(): { end(): { busyMs: number; wallMs: number } | null } {
  const busy0 = hostBusyCpuMs();
  const t0 = performance.now();
  return {
    end() {
      const busy1 = hostBusyCpuMs();
      return busy0 === null || busy1 === null ? null : { busyMs: busy1 - busy0, wallMs: performance.now() - t0 };
    },
  };
}

/** CPU time (user + system) process `pid` has used so far, from /proc/<pid>/stat (Linux), ms; null when unreadable. */
export function processCpuMs(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the parenthesised command name (which may hold spaces): state is [0], utime [11], stime [12].
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  return Number.isFinite(ticks) ? ticks * 10 : null;
}
