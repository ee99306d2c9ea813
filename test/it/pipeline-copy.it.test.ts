import { pipelineScenario } from './pipeline-scenario.js';

pipelineScenario('copy', [], '6120-6139');
