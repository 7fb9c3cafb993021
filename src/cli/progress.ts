import type { Progress } from '../engine/index.js';

/** A one-line live progress bar on stderr (TTY only). */
export class ProgressBar {
  #last = 0;

  update(p: Progress): void {
    const now = Date.now();
    if (now - this.#last < 100) return;
    this.#last = now;
    const frac = p.dirtyPages > 0 ? p.pagesDone / p.dirtyPages : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
    const rate = (p.bytesPerSec / 1e6).toFixed(0);
    const est = p.expectedDowntimeMs === null ? '-' : Number.isFinite(p.expectedDowntimeMs) ? `${p.expectedDowntimeMs.toFixed(0)} ms` : '∞';
    const line = `round ${p.round} [${bar}] ${p.pagesDone}/${p.dirtyPages} dirty pages  ${rate} MB/s  sent ${(p.wireBytes / 1e6).toFixed(0)} MB  expected downtime ${est}${p.throttle > 0 ? `  throttle ${(p.throttle * 100).toFixed(0)}%` : ''}`;
    process.stderr.write(`\r\x1b[2K${line}`);
  }

  done(): void {
    process.stderr.write('\r\x1b[2K');
  }
}
