import { pipelineScenario } from './pipeline-scenario.js';

pipelineScenario('commit', []);
