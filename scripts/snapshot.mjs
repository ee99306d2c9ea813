#!/usr/bin/env zx
// Takes a consistent snapshot of the Swarm replica on its own node (the pool node); with
// --clone, also starts a clone of it there and prints the clone (name, host, port, user,
// password, snapshot, dsn), reachable from the machine that ran the script.
//   npx zx scripts/snapshot.mjs [--clone] [--json] [--config Pulumi.dev.yaml] [--root DIR]
// Needs `make build` (it calls dolly's library in dist/) and replication bootstrapped.
import { runScript, snapshotScript } from '../dist/scripts.js';

await runScript(argv, snapshotScript, ({ snapshot, clone }) =>
  [
    `snapshot ${snapshot.id}: gtid ${snapshot.gtid}, applier paused ${snapshot.pause_ms} ms`,
    ...(clone ? [`clone ${clone.name}: ${clone.dsn} (ready in ${clone.ready_ms} ms)`] : []),
  ].join('\n'),
);
