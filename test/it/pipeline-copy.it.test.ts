import { pipelineScenario } from './pipeline-scenario.js';

pipelineScenario('copy', []);
