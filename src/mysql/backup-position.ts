/**
 * The position a physical backup recorded: the source's binary log file, offset and GTID at the
 * instant the backup is consistent. mariadb-backup writes it to `mariadb_backup_binlog_info`
 * (11.x) or `xtrabackup_binlog_info` (10.x, and Percona XtraBackup for MySQL), one line of
 * tab-separated fields: `file  position  [gtid]`.
 */
export interface BackupPosition {
  file: string;
  position: number;
  /** '' when the source had written no GTID yet. */
  gtid: string;
}

/** The files a backup keeps its position in, newest name first. */
export const BACKUP_POSITION_FILES = ['mariadb_backup_binlog_info', 'xtrabackup_binlog_info'] as const;

/**
 * Parses a binlog info file; null when it records no position (empty, or not of that form). A
 * GTID set written over several lines (XtraBackup for MySQL with many server uuids) is joined.
 */
export function parseBackupPosition(text: string): BackupPosition | null {
  const [first = '', ...rest] = text.trim().split('\n');
  const [file = '', position = '', ...gtidParts] = first.split('\t').map((f) => f.trim());
  if (!/^[^\s/]+\.\d+$/.test(file) || !/^\d+$/.test(position)) return null;
  const gtid = [gtidParts.join(''), ...rest.map((l) => l.trim())].join('').replace(/\s+/g, '');
  return { file, position: Number(position), gtid };
}
