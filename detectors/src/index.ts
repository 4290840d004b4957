export {
  defineDetector,
  type DetectContext,
  type Detector,
  type DetectorConfig,
  type DetectorDefinition,
  type RunWindow,
} from './define-detector.js';
export { IntentResolver, type Task } from './intent/intent-resolver.js';
export { DETECTORS } from './rules/index.js';
export { type CommittedRows, LiveDetection } from './live/live-detection.js';
export { DetectorRunner, type LiveRun, type RunReport } from './runner/detector-runner.js';
export { DetectorService, type DetectorServiceConfig, type DetectorServiceOptions } from './runner/detector-service.js';
export { Watermarks } from './runner/watermarks.js';
export { DEFAULT_DETECTOR_SETTINGS, detectorSettings, detectorVariables, type DetectorSettings } from './settings.js';
