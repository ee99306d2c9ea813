import type { NodeModel } from './model.js';

/**
 * Swarm placement constraints, evaluated against the nodes the config lists, so a topology whose
 * services could not be placed, or could share a node they must not share, is refused before
 * anything is deployed. Semantics follow Swarm's: `node.labels.k!=v` also matches a node that has
 * no label `k`, and values compare without regard to case. Attributes the config cannot know (`node.id`, `node.platform.*`, `engine.labels.*`)
 * count as "may match", so the checks never refuse a topology Swarm could place.
 */
export interface Constraint {
  readonly attribute: string;
  readonly operator: '==' | '!=';
  readonly value: string;
}

const CONSTRAINT = /^\s*([a-zA-Z][a-zA-Z0-9_.-]*)\s*(==|!=)\s*(\S(?:.*\S)?)\s*$/;

/** Parses `node.hostname==node-1`; undefined when it is not a constraint. */
export function parseConstraint(text: string): Constraint | undefined {
  const match = CONSTRAINT.exec(text);
  if (!match?.[1] || !match[3]) return undefined;
  return { attribute: match[1], operator: match[2] === '!=' ? '!=' : '==', value: match[3] };
}

/** The node's value for an attribute: a string, null when the node has none, undefined when unknowable. */
function attributeOf(node: NodeModel, attribute: string): string | null | undefined {
  if (attribute === 'node.hostname') return node.hostname;
  if (attribute === 'node.role') return node.role;
  if (attribute.startsWith('node.labels.')) return node.labels[attribute.slice('node.labels.'.length)] ?? null;
  return undefined;
}

/** True when the node satisfies every constraint (or may: see the module's comment). */
export function satisfies(node: NodeModel, constraints: readonly string[]): boolean {
  return constraints.every((text) => {
    const constraint = parseConstraint(text);
    if (constraint === undefined) return true;
    const actual = attributeOf(node, constraint.attribute);
    if (actual === undefined) return true;
    const equal = actual !== null && actual.toLowerCase() === constraint.value.toLowerCase();
    return constraint.operator === '==' ? equal : !equal;
  });
}

/** The hostnames of the nodes a service with these constraints could run on. */
export function candidateNodes(nodes: readonly NodeModel[], constraints: readonly string[]): string[] {
  return nodes.filter((node) => satisfies(node, constraints)).map((node) => node.hostname);
}
