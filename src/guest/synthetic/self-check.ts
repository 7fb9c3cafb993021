/**
 * The synthetic guest's self-check: reads only guest memory, so it runs as well on a destination
 * that received the memory as on the source.
 *
 * It fails on
 *  - a header that cannot be run (magic, geometry, header checksum);
 *  - any data page whose xxh32 differs from its page-table checksum: a flipped byte anywhere, a
 *    zeroed page that held data, an older version of a page (the table holds the newest checksum),
 *    a page moved to another index (the checksum is seeded with the index);
 *  - a written page whose trailer (index, generation) differs from its table entry;
 *  - a sum of generations different from the header's write count (a lost page-table update);
 *  - per workload: qemu-test and memstress know each page's exact generation from (pass, cursor),
 *    and qemu-test also runs QEMU's own check_guests_ram rule on the first bytes; hotset pages
 *    outside the hot set must never have been written.
 */
import type { SelfCheckResult } from '../types.js';
import { H, MemoryViews, pageChecksum, usesTrailer, workloadFromId } from './layout.js';
import { LOAD_FAILURE, headerProblem } from './workloads.js';

const MAX_LISTED = 5;

/** Checks the workload invariants over `v`. */
export function checkSyntheticMemory(v: MemoryViews): SelfCheckResult {
  const problem = headerProblem(v);
  if (problem !== 0) {
    return { ok: false, pagesChecked: 0, errors: 1, detail: LOAD_FAILURE[problem] };
  }
  const w = v.words;
  const workload = workloadFromId(w[H.WORKLOAD])!;
  const trailer = usesTrailer(workload);
  const nData = v.pageCount - v.firstData;
  const bad = new Set<number>();
  const notes: string[] = [];
  const fail = (page: number, why: string): void => {
    if (!bad.has(page) && notes.length < MAX_LISTED) notes.push(`page ${page}: ${why}`);
    bad.add(page);
  };

  for (let i = 0; i < v.firstData; i++) {
    if (v.generation(i) !== 0 || v.checksum(i) !== 0) fail(i, 'page-table entry of a header page is not zero');
  }

  let generations = 0;
  for (let i = v.firstData; i < v.pageCount; i++) {
    const gen = v.generation(i);
    generations += gen;
    if (pageChecksum(v.page(i), i) !== v.checksum(i)) {
      fail(i, `content does not match its checksum (generation ${gen})`);
      continue;
    }
    if (trailer && gen > 0) {
      const end = (i + 1) * v.pageWords;
      if (w[end - 2] !== i || w[end - 1] !== gen) {
        fail(i, `trailer says page ${w[end - 2]} generation ${w[end - 1]}, table says generation ${gen}`);
      }
    }
  }
  if (generations !== v.writes()) {
    fail(0, `page generations sum to ${generations}, header counts ${v.writes()} writes`);
  }

  if (workload === 'qemu-test' || workload === 'memstress') {
    const pass = w[H.PASS];
    const cursor = w[H.CURSOR];
    for (let k = 0; k < nData; k++) {
      const expected = pass + (k < cursor ? 1 : 0);
      const i = v.firstData + k;
      if (v.generation(i) !== expected) fail(i, `generation ${v.generation(i)}, pass/cursor imply ${expected}`);
      else if (workload === 'qemu-test' && v.bytes[i * v.pageSize] !== (expected & 0xff)) {
        fail(i, `first byte ${v.bytes[i * v.pageSize]}, expected ${expected & 0xff}`);
      }
    }
    if (workload === 'qemu-test') {
      const edges = qemuEdgeViolations(v);
      if (edges > 0) fail(v.firstData, `QEMU check_guests_ram: ${edges} bad page(s)`);
    }
  }
  if (workload === 'hotset') {
    const hot = new Uint8Array(nData);
    const mul = w[H.SCATTER_MUL];
    for (let r = 0; r < w[H.HOT_COUNT]; r++) hot[(r * mul) % nData] = 1;
    for (let k = 0; k < nData; k++) {
      if (hot[k] === 0 && v.generation(v.firstData + k) !== 0) fail(v.firstData + k, 'written but not in the hot set');
    }
  }

  const errors = bad.size;
  return {
    ok: errors === 0,
    pagesChecked: nData,
    errors,
    detail: errors === 0
      ? `${workload}: ${nData} data pages consistent, ${v.writes()} writes`
      : `${workload}: ${errors} bad page(s): ${notes.join('; ')}${errors > notes.length ? '; …' : ''}`,
  };
}

/**
 * QEMU's check_guests_ram (tests/qtest/migration-test.c): walking the pages, each first byte equals
 * the previous one except at most one edge where it is one less. Returns the `bad` count.
 */
export function qemuEdgeViolations(v: MemoryViews): number {
  let last = v.bytes[v.firstData * v.pageSize];
  let hitEdge = false;
  let bad = 0;
  for (let i = v.firstData + 1; i < v.pageCount; i++) {
    const b = v.bytes[i * v.pageSize];
    if (b !== last) {
      if (((b + 1) & 0xff) === last && !hitEdge) hitEdge = true;
      else bad++;
      last = b;
    }
  }
  return bad;
}
