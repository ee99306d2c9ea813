import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rootTag } from '../labels.js';
import type { Shell } from '../shell.js';

export interface InstallResult {
  name: string;
  unit: string;
  enabled: boolean;
}

/** The systemd unit of a root's engine: after Docker, restarted on failure, stopped by SIGTERM (jobs undo). */
export function unitText(root: string, args: readonly string[], node = process.execPath, bin = resolve(fileURLToPath(import.meta.url), '../../../bin/dolly')): string {
  const quote = (word: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `"${word.replace(/(["\\$`])/g, '\\$1')}"`);
  const command = [node, bin, '--root', root, 'serve', ...args].map(quote).join(' ');
  return [
    '[Unit]',
    `Description=dolly engine for ${root}`,
    'Requires=docker.service',
    'After=docker.service network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${command}`,
    'Restart=on-failure',
    'RestartSec=5',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=120',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * `dolly serve --install`: writes `dolly-<root tag>.service` with the same serve options, and
 * enables and starts it where systemd runs (on a machine without it, only the file is written).
 */
export async function installUnit(options: { root: string; args: readonly string[]; unitDir: string }, shell: Shell): Promise<InstallResult> {
  const name = `dolly-${rootTag(options.root)}.service`;
  const unit = join(options.unitDir, name);
  await mkdir(options.unitDir, { recursive: true });
  await writeFile(unit, unitText(options.root, options.args), { mode: 0o644 });
  const systemd = existsSync('/run/systemd/system') && options.unitDir === '/etc/systemd/system';
  if (systemd) {
    await shell.run('systemctl', ['daemon-reload']);
    await shell.run('systemctl', ['enable', '--now', name]);
  }
  return { name, unit, enabled: systemd };
}
