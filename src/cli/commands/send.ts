import { LivemigError, stderrLogger } from '../../core/index.js';
import { COMMON_OPTIONS, SOURCE_OPTIONS, sourceConfig } from '../options.js';
import { endpointOpt, parseFlags } from '../args.js';
import { TRANSPORT_OPTIONS, connectChannel, transportConfig } from '../transport-options.js';
import { buildSourceGuest, migrateOver, printReport } from '../source-side.js';
import { MIGRATE_OPTIONS_HELP } from './migrate.js';

export const SEND_HELP = `livemig send --to HOST:PORT [options]

Starts a guest here and live-migrates it to a 'livemig receive' agent.
${MIGRATE_OPTIONS_HELP}`;

/** `livemig send`: the source agent, for two hosts. */
export async function sendCommand(argv: string[]): Promise<number> {
  const values = parseFlags(argv, { ...COMMON_OPTIONS, ...SOURCE_OPTIONS, ...TRANSPORT_OPTIONS, to: { type: 'string' } });
  if (values.help) {
    process.stdout.write(SEND_HELP + '\n');
    return 0;
  }
  const to = endpointOpt(values.to as string | undefined, 'to', true)!;
  const cfg = sourceConfig(values);
  const tcfg = transportConfig(values);
  // The testbed's namespaces hold both ends, which only `migrate` starts; ignoring the flag would
  // send over whatever route this process happens to have.
  if (tcfg.testbed) {
    throw new LivemigError('LIVEMIG_E_INVALID_OPTION', "--testbed works with 'livemig migrate', which starts both ends; for send, run it in the source namespace ('livemig testbed exec --side src -- livemig send ...') with --paths", { phase: 'cli' });
  }
  const log = stderrLogger(values.verbose === true);
  const guest = await buildSourceGuest(cfg, log);
  try {
    const channel = await connectChannel(tcfg, to);
    const report = await migrateOver(cfg, guest, channel, { json: values.json === true, verbose: values.verbose === true });
    printReport(report, values.json === true);
    return report.verified && report['self-check']?.ok !== false ? 0 : 1;
  } finally {
    await guest.close();
  }
}
