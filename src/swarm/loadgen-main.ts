/**
 * The load emulator's entry point in its image (`dolly/loadgen`): reads the environment the
 * `loadgen` service of the topology sets, and writes a row per interval into `repl_status` on the
 * source, as in the seed, reconnecting on its own when the source restarts. Ends on SIGTERM.
 */
import { startLoadEmulator } from '../mysql/load-emulator.js';
import { messageOf } from '../errors.js';
import { readLoadgenEnv, readPasswordFile } from './loadgen-env.js';

async function main(): Promise<void> {
  const settings = readLoadgenEnv(process.env);
  const password = await readPasswordFile(settings.passwordFile);
  const connect = { host: settings.host, port: settings.port, user: settings.user, password, role: 'source' as const };
  const emulator = await startLoadEmulator(connect, {
    database: settings.database,
    intervalMs: settings.intervalMs,
    onError: (message) => process.stderr.write(`loadgen: write failed, reconnecting: ${message}\n`),
  });
  process.stdout.write(`loadgen: a row every ${settings.intervalMs} ms into ${settings.database}.repl_status on ${settings.host}:${settings.port}\n`);
  const stop = (): void => {
    void emulator.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`loadgen: ${messageOf(error)}\n`);
  process.exit(1);
});
