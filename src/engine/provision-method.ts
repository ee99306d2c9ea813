/**
 * The three ways `replica init` makes the first copy (each returns the source's GTID position the
 * copy corresponds to, and the bytes it moved):
 * - dump: a consistent logical copy over the network into the running replica (every engine);
 * - backup: a mariadb-backup backup restored into the volume before the server starts (MariaDB);
 * - clone: MySQL's CLONE plugin, the replica's server pulling a physical copy from the source.
 */
export type ProvisionMethod = 'dump' | 'backup' | 'clone';
