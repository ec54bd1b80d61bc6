/**
 * The wire shapes the page reads, from the OpenAPI contract's generated types (one source of
 * truth: a contract change that breaks the page breaks its type check).
 */
import type { components, operations } from '../../../src/http/generated/openapi.js';

export type ApiErrorBody = components['schemas']['Error'];
export type ClassifyResponse = components['schemas']['ClassifyResponse'];
export type ClipScores = NonNullable<ClassifyResponse['clips']>[number];
export type TemporalResult = components['schemas']['TemporalResult'];
export type TemporalSegment = components['schemas']['TemporalSegment'];
export type SpatiotemporalResult = components['schemas']['SpatiotemporalResult'];
export type Keyframe = SpatiotemporalResult['keyframes'][number];
export type Person = Keyframe['people'][number];
export type Job = components['schemas']['Job'];
export type JobProgressEvent = components['schemas']['JobProgressEvent'];
export type JobStageEvent = components['schemas']['JobStageEvent'];
export type ModelInfo = components['schemas']['ModelInfo'];
export type ModelList = operations['listModels']['responses']['200']['content']['application/json'];
export type Task = ModelInfo['task'];
