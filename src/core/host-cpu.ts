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
