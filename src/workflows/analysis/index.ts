export { analysisPipeline } from './pipeline.js';
export { appAnalysis } from './app-analysis.js';
