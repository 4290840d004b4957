import type { Detector } from '../define-detector.js';
import { crossServiceReuse } from './cross_service_reuse/detector.js';

/** Every detector, one line each (CONVENTIONS.md §2). */
export const DETECTORS: readonly Detector[] = [crossServiceReuse];
