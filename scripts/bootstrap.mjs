#!/usr/bin/env zx
// Bootstraps replication from `source` to `replica` across the Swarm's nodes (what `dolly swarm
// deploy` does after deploying): a consistent copy over vb-net, then GTID replication.
//   npx zx scripts/bootstrap.mjs [--config Pulumi.dev.yaml] [--root DIR] [--docker-host URL] [--json]
// Needs `make build` (it calls dolly's library in dist/) and the stack deployed.
import { bootstrapScript, runScript } from '../dist/scripts.js';

await runScript(argv, bootstrapScript, (r) =>
  r.already ? `replication already configured (gtid ${r.gtid})` : `copied ${r.databases.join(', ') || 'no database'}; replicating from ${r.gtid || 'the start'} (${r.seconds} s)`,
);
