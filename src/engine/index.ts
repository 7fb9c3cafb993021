export { runSource, mergeSorted, type SourceOptions, type Progress } from './source.js';
export { runDestination, type DestinationOptions, type DestinationReport } from './destination.js';
export { ConvergencePolicy, DEFAULT_CONVERGENCE, type ConvergenceOptions, type ConvergenceDecision, type RoundObservation } from './convergence.js';
export { PageEncoder, MIGRATION_CODECS, type MigrationCodec, type EncodeCounters } from './page-encoder.js';
export { RateMeter, TokenBucket } from './rate.js';
export { evaluateModel, type ModelReport } from './model.js';
export { formatSummary, type MigrationReport, type RoundRow } from './report.js';
export { InlineRoundEncoder, type RoundEncoder, type RoundEncoderOptions, type RoundResult, type EmitFrame } from './round-encoder.js';
export { WorkerRoundEncoder, createRoundEncoder, type WorkerEncoderOptions } from './worker-round-encoder.js';
