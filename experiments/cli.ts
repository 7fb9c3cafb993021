/**
 * `livemig experiment NAME|all [--quick] [--runs N] [--guest synthetic|qemu] [--out DIR] [--doc]`,
 * and `livemig experiment doc RESULTS/DATE-all` (rebuild the reports and docs from a finished run).
 * `all` runs every scenario into results/DATE-all/NAME/ with one REPORT.md over all of them;
 * `--doc` then writes docs/EVALUATION.md and copies the charts into docs/eval/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LivemigError } from '../src/core/index.js';
import { getDriver } from './driver.js';
import { runExperiment, stamp, type ExperimentResult } from './runner.js';
import { allScenarios, findScenario } from './scenarios/index.js';
import { combinedReport, writeEvaluationDoc } from './doc.js';
import { loadAll } from './load.js';
import type { ExperimentOptions } from './types.js';

export const EXPERIMENT_HELP = `livemig experiment NAME|all [options]

Reproduces the paper's evaluation (section VIII, figures 5-8) and livemig's own questions.
Scenarios: ${allScenarios().map((s) => [s.name, ...(s.aliases ?? [])].join('/')).join(', ')}
Testbed scenarios (exp-a, fig5, subflows, congestion) need root: they build their own testbed
'eval' (namespaces lm-eval-src/lm-eval-dst) and remove it afterwards.

Options:
  --quick            the small version: small guests, 1 run, few points (minutes)
  --runs N           runs per point (default 3; 1 with --quick)
  --guest G          guest driver: synthetic (default) | qemu (not built yet)
  --out DIR          results folder (default results/DATE-NAME)
  --doc              with 'all': write docs/EVALUATION.md and docs/eval/ from this run

livemig experiment doc results/DATE-all
                     rebuild REPORT.md, docs/EVALUATION.md and docs/eval/ from a finished
                     'all' run, without running anything again`;

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function invalid(msg: string): never {
  throw new LivemigError('LIVEMIG_E_INVALID_OPTION', msg, { phase: 'cli' });
}

/** Parses and validates the options of `livemig experiment`. */
export function parseExperimentArgs(argv: string[]): { name: string | undefined; opts: ExperimentOptions; out?: string; doc: boolean; help: boolean } {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { quick: { type: 'boolean' }, runs: { type: 'string' }, guest: { type: 'string' }, out: { type: 'string' }, doc: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (positionals.length > (positionals[0] === 'doc' ? 2 : 1)) invalid(`Expected one experiment name, got '${positionals.join(' ')}'`);
  const quick = values.quick === true;
  let runs = quick ? 1 : 3;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1 || runs > 100) invalid(`Expected --runs to be an integer from 1 to 100, got '${values.runs}'`);
  }
  const guest = values.guest ?? 'synthetic';
  return { name: positionals[0], opts: { quick, runs, guest }, out: values.out ?? (positionals[0] === 'doc' ? positionals[1] : undefined), doc: values.doc === true, help: values.help === true };
}

/** Runs the command; returns the exit code (1 when a run failed, so CI notices). */
export async function experimentMain(argv: string[]): Promise<number> {
  const a = parseExperimentArgs(argv);
  if (a.help || !a.name) {
    process.stdout.write(EXPERIMENT_HELP + '\n');
    return a.help ? 0 : 2;
  }
  if (a.name === 'doc') {
    const dir = a.out;
    if (!dir) invalid('Expected `livemig experiment doc RESULTS_DIR`, e.g. results/2026-01-03-011700-all');
    const results = await loadAll(dir);
    if (results.length === 0) invalid(`Expected experiment results in '${dir}', found none`);
    await writeFile(join(dir, 'REPORT.md'), combinedReport(results, dir));
    process.stderr.write(`wrote ${join(dir, 'REPORT.md')} and ${await writeEvaluationDoc(results, dir)}\n`);
    return 0;
  }
  const driver = getDriver(a.opts.guest);
  const scenarios = a.name === 'all' ? allScenarios() : [findScenario(a.name) ?? invalid(`Expected an experiment name (${allScenarios().map((s) => s.name).join(', ')}, all), got '${a.name}'`)];
  if (a.doc && a.name !== 'all') invalid('--doc applies to `livemig experiment all` only');
  const results: ExperimentResult[] = [];
  if (a.name === 'all') {
    const dir = a.out ?? join(REPO, 'results', `${stamp()}-all`);
    for (const s of scenarios) results.push(await runExperiment(s, a.opts, { driver, outDir: join(dir, s.name) }));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'REPORT.md'), combinedReport(results, dir));
    process.stderr.write(`all experiments: ${dir}/REPORT.md\n`);
    if (a.doc) process.stderr.write(`wrote ${await writeEvaluationDoc(results, dir)}\n`);
  } else {
    const r = await runExperiment(scenarios[0], a.opts, { driver, outDir: a.out });
    results.push(r);
    process.stderr.write(`report: ${r.dir}/REPORT.md\n`);
  }
  return results.some((r) => r.records.some((x) => !x.ok)) ? 1 : 0;
}
