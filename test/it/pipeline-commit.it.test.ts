import { pipelineScenario } from './pipeline-scenario.js';

pipelineScenario('commit', [], '6170-6189');
