import { pipelineScenario } from './pipeline-scenario.js';

pipelineScenario('btrfs', ['root', 'btrfs'], '6100-6119');
