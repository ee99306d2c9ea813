import { pipelineScenario } from './pipeline-scenario.js';

pipelineScenario('btrfs', ['root', 'btrfs']);
