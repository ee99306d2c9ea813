/**
 * Every server dolly runs (and every tool container beside one) runs as this uid:gid, never root;
 * its datadir and run dir are owned by it. The server images name it (`dolly`, src/docker/image-build.ts).
 * A fixed number (the port MySQL made famous) so the host can chown without asking the image.
 */
export const SERVER_UID = 3306;
