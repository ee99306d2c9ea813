import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeModel } from './model.js';
import { candidateNodes, parseConstraint, satisfies } from './placement.js';

const nodes: NodeModel[] = [
  { hostname: 'node-1', role: 'manager', labels: {} },
  { hostname: 'node-2', role: 'worker', labels: { 'dolly.pool': 'true' } },
  { hostname: 'node-3', role: 'worker', labels: { 'dolly.pool': 'false', zone: 'b' } },
];

describe('placement constraints', () => {
  it('parses attribute, operator and value, with spaces around the operator', () => {
    assert.deepEqual(parseConstraint('node.hostname==node-1'), { attribute: 'node.hostname', operator: '==', value: 'node-1' });
    assert.deepEqual(parseConstraint(' node.labels.dolly.pool != true '), { attribute: 'node.labels.dolly.pool', operator: '!=', value: 'true' });
    assert.equal(parseConstraint('node.hostname=node-1'), undefined);
    assert.equal(parseConstraint('nonsense'), undefined);
  });
  it('matches hostname, role and labels; != also matches a node without the label', () => {
    assert.deepEqual(candidateNodes(nodes, ['node.labels.dolly.pool==true']), ['node-2']);
    assert.deepEqual(candidateNodes(nodes, ['node.labels.dolly.pool!=true']), ['node-1', 'node-3']);
    assert.deepEqual(candidateNodes(nodes, ['node.role==worker', 'node.labels.zone==b']), ['node-3']);
    assert.deepEqual(candidateNodes(nodes, ['node.hostname!=node-1']), ['node-2', 'node-3']);
    assert.deepEqual(candidateNodes(nodes, ['node.hostname==NODE-1']), ['node-1'], 'values compare without case, as in Swarm');
  });
  it('all constraints must hold', () => {
    assert.deepEqual(candidateNodes(nodes, ['node.hostname==node-1', 'node.labels.dolly.pool==true']), []);
  });
  it('attributes the config cannot know may match (never refuse what Swarm could place)', () => {
    const node = nodes[0];
    assert.ok(node);
    assert.equal(satisfies(node, ['node.id==abc', 'engine.labels.x==y', 'node.platform.os==linux']), true);
  });
});
