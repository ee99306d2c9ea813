/**
 * dolly's dependency rule (issue 20): the layers point down only, and nothing imports in a circle.
 * Checked by test/dependency-rules.test.ts on the real tree (and on a planted tree, to prove each
 * rule can fail). Type-only imports (`import type`), re-exports and dynamic `import()` count like
 * any other import.
 *
 *   0 base            src/errors.ts, log, format, elapsed, failpoint, labels, shell, lag-text, free-port
 *   1 model           src/model/**                           imports 0
 *   2 infrastructure  src/state, storage, runtime, docker, mysql: imports 0–2
 *   3 engine          src/engine                             imports 0–3
 *   4 api             src/api                                imports 0–4
 *   5 server          src/server                             imports 0–5
 *     web             web/ (the browser bundle)              imports 0, 1 and the api route table
 *   6 swarm           src/swarm                              imports 0–3 and 6
 *   7 roots           src/cli, src/demo, src/scripts.ts      anything above, except the sandbox
 *   8 sandbox         dev/sandbox (Docker in Docker; not product code): nothing in src/ or web/ imports it
 *
 * Tests (`*.test.ts`, test/, bench/) may import any layer; they are not exempt from cycles.
 */

/** Paths, relative to the repository's root. */
const BASE = '^src/(errors|log|format|elapsed|failpoint|labels|shell|lag-text|free-port)\\.ts$';
const MODEL = '^src/model/';
const INFRA = '^src/(state|storage|runtime|docker|mysql|mask)/';
const ENGINE = '^src/engine/';
const API = '^src/api/';
const ROUTE_TABLE = '^src/api/routes\\.ts$';
const SERVER = '^src/server/';
const WEB = '^web/';
const SWARM = '^src/swarm/';
const ROOTS = '^(src/(cli|demo)/|src/scripts\\.ts$)';
const SANDBOX = '^dev/sandbox/';
/** Tests and benchmarks: exempt from the layering. */
const TESTS = ['\\.test\\.ts$', '^test/', '^bench/'];
/** Everything the layering speaks of (an arrow to any of it, from a layer below, is upward). */
const LAYERED = '^(src|web|dev)/';

/** A rule: product files in `from` import nothing layered outside `allowed`. */
function layer(name, comment, from, allowed) {
  return {
    name,
    comment,
    severity: 'error',
    from: { path: from, pathNot: TESTS },
    to: { path: LAYERED, pathNot: allowed },
  };
}

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'No import cycle, of any kind (type-only and dynamic imports included), in product code or tests.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'engine-not-swarm',
      comment: 'The engine knows nothing of the Swarm (the Swarm uses the engine, never the other way).',
      severity: 'error',
      from: { path: ENGINE, pathNot: TESTS },
      to: { path: SWARM },
    },
    {
      name: 'product-not-sandbox',
      comment: 'The Docker-in-Docker sandbox is a development tool: product code never imports it.',
      severity: 'error',
      from: { path: '^(src|web)/', pathNot: TESTS },
      to: { path: SANDBOX },
    },
    {
      name: 'product-not-tests',
      comment: 'Product code never imports tests, their support or benchmarks.',
      severity: 'error',
      from: { path: '^(src|web)/', pathNot: TESTS },
      to: { path: TESTS },
    },
    layer('base-imports-base', 'base imports only base.', BASE, [BASE]),
    layer('model-imports-base', 'The wire model imports only base (and zod).', MODEL, [BASE, MODEL]),
    layer('infrastructure-imports-down', 'state, storage, runtime, docker, mysql import base, model and each other.', INFRA, [BASE, MODEL, INFRA]),
    layer('engine-imports-down', 'The engine imports base, model and infrastructure (not api, server, swarm, cli, demo, web).', ENGINE, [BASE, MODEL, INFRA, ENGINE]),
    layer('api-imports-down', 'The api imports the engine and below.', API, [BASE, MODEL, INFRA, ENGINE, API]),
    layer('server-imports-down', 'dolly serve imports the api and below.', SERVER, [BASE, MODEL, INFRA, ENGINE, API, SERVER]),
    layer('web-imports-model', 'The browser bundle imports only base, the wire model and the api route table.', WEB, [BASE, MODEL, ROUTE_TABLE, WEB]),
    layer('swarm-imports-engine', 'The Swarm imports the engine and below (not api, server, cli, demo).', SWARM, [BASE, MODEL, INFRA, ENGINE, SWARM]),
    layer('roots-not-sandbox', 'Composition roots import anything but the sandbox.', ROOTS, [BASE, MODEL, INFRA, ENGINE, API, SERVER, SWARM, ROOTS]),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    // `import type` and type-only re-exports are arrows too.
    tsPreCompilationDeps: true,
    // ESM TypeScript imports name the emitted `.js`; dependency-cruiser resolves them to the `.ts` beside it.
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    moduleSystems: ['es6', 'cjs'],
  },
};
