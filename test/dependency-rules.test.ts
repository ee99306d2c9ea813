import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';

/**
 * The dependency rule of issue 20 (.dependency-cruiser.cjs): the layers point down only, product
 * code never imports the sandbox, the engine never imports the Swarm, and nothing imports in a
 * circle (neither two files nor two folders of src/). Type-only and dynamic imports count.
 */
const REPO = fileURLToPath(new URL('..', import.meta.url));
const CONFIG = join(REPO, '.dependency-cruiser.cjs');

/** What the check finds: one line per broken rule, `rule: from → to` (a cycle: every step). */
interface Findings {
  violations: string[];
  /** Folders of src/ that import each other, directly or round a longer loop. */
  folderCycles: string[][];
}

/** Runs the configured cruise from `baseDir` on `roots` (those that exist). */
async function check(baseDir: string, roots: string[]): Promise<Findings> {
  const options = await extractDepcruiseOptions(CONFIG);
  const present = roots.filter((root) => existsSync(join(baseDir, root)));
  const { output } = await cruise(present, { ...options, baseDir, validate: true });
  const result = output as ICruiseResult;
  const violations = result.summary.violations.map((v) =>
    v.cycle && v.cycle.length > 0 ? `${v.rule.name}: ${[v.from, ...v.cycle.map((step) => step.name)].join(' → ')}` : `${v.rule.name}: ${v.from} → ${v.to}`,
  );
  return { violations: [...new Set(violations)].sort(), folderCycles: folderCycles(result) };
}

/** The folder of src/ a product file belongs to (`src/engine`), or null for tests and files outside src/. */
function folderOf(path: string): string | null {
  if (!path.startsWith('src/') || path.endsWith('.test.ts')) return null;
  const parts = path.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : path;
}

/** Strongly connected groups of more than one folder in the graph of src/'s product files (Tarjan). */
function folderCycles(result: ICruiseResult): string[][] {
  const edges = new Map<string, Set<string>>();
  for (const module of result.modules) {
    const from = folderOf(module.source);
    if (from === null) continue;
    for (const dependency of module.dependencies) {
      const to = folderOf(dependency.resolved);
      if (to === null || to === from) continue;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)?.add(to);
    }
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const groups: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) ?? 0);
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (stack.includes(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) === index.get(node)) {
      const group: string[] = [];
      for (let top = stack.pop(); top !== undefined; top = top === node ? undefined : stack.pop()) group.push(top);
      if (group.length > 1) groups.push(group.sort());
    }
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return groups.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
}

/** Writes a small tree: path → source. */
function plant(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'dolly-deprules-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe('the dependency rule', () => {
  it('holds on the tree: layers point down, no cycle, nothing imports the sandbox', async () => {
    const found = await check(REPO, ['src', 'web', 'dev', 'test', 'bench', 'components', 'index.ts']);
    const broken = [...found.violations, ...found.folderCycles.map((group) => `folder-cycle: ${group.join(' ⇄ ')}`)];
    assert.deepEqual(broken, [], `imports against the dependency rule (.dependency-cruiser.cjs):\n${broken.join('\n')}`);
  });

  it('fails on each planted violation, and on nothing else', async () => {
    const dir = plant({
      'src/errors.ts': 'export class DollyError extends Error {}\n',
      // Allowed: the engine imports base; the Swarm imports the engine; a test imports anything.
      'src/engine/plan.ts': "import type { DollyError } from '../errors.js';\nexport type Plan = { error?: DollyError };\n",
      'src/swarm/topology.ts': "import type { Plan } from '../engine/plan.js';\nexport const topology: Plan = {};\n",
      'test/engine.test.ts': "import { deploy } from '../src/engine/deploy.js';\nimport { help } from './support/help.js';\nexport const seen = [deploy, help];\n",
      // The engine imports the Swarm.
      'src/engine/deploy.ts': "import { topology } from '../swarm/topology.js';\nexport const deploy = topology;\n",
      // A type-only arrow upward: infrastructure → engine.
      'src/state/store.ts': "import type { Plan } from '../engine/plan.js';\nexport const store = (plan: Plan): Plan => plan;\n",
      // A re-export upward: engine → api.
      'src/engine/view.ts': "export { view } from '../api/local.js';\n",
      'src/api/local.ts': 'export const view = 1;\n',
      // A dynamic import() of the sandbox, from a composition root.
      'src/cli/main.ts': "import { store } from '../state/store.js';\nexport const main = async (): Promise<unknown> => [store, await import('../../dev/sandbox/node.js')];\n",
      'dev/sandbox/node.ts': 'export const node = 1;\n',
      // A cycle of two files, one arrow type-only.
      'src/mysql/a.ts': "import { b } from './b.js';\nexport const a = (): number => b;\n",
      'src/mysql/b.ts': "import type { a } from './a.js';\nexport const b = 1;\nexport type A = typeof a;\n",
      // A cycle among tests (exempt from the layering, not from cycles).
      'test/support/help.ts': "import type { seen } from '../engine.test.js';\nexport const help = 1;\nexport type Seen = typeof seen;\n",
      // Two infrastructure folders that import each other, with no file cycle.
      'src/docker/client.ts': "import { UID } from '../runtime/uid.js';\nexport const client = UID;\n",
      'src/runtime/uid.ts': 'export const UID = 999;\n',
      'src/runtime/runtime.ts': "import { client } from '../docker/client.js';\nexport const runtime = client;\n",
    });
    try {
      const found = await check(dir, ['src', 'dev', 'test']);
      assert.deepEqual(found.violations, [
        'engine-imports-down: src/engine/deploy.ts → src/swarm/topology.ts',
        'engine-imports-down: src/engine/view.ts → src/api/local.ts',
        'engine-not-swarm: src/engine/deploy.ts → src/swarm/topology.ts',
        'infrastructure-imports-down: src/state/store.ts → src/engine/plan.ts',
        'no-cycle: src/mysql/a.ts → src/mysql/b.ts → src/mysql/a.ts',
        'no-cycle: test/engine.test.ts → test/support/help.ts → test/engine.test.ts',
        'product-not-sandbox: src/cli/main.ts → dev/sandbox/node.ts',
        'roots-not-sandbox: src/cli/main.ts → dev/sandbox/node.ts',
      ]);
      // docker ⇄ runtime has no file cycle; engine ⇄ swarm is the planted engine → swarm arrow closing the loop.
      assert.deepEqual(found.folderCycles, [
        ['src/docker', 'src/runtime'],
        ['src/engine', 'src/swarm'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
