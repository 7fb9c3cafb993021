/** QEMU migration stream layer (driver B): parser, writer, page mirror and the wire pipeline. */

export * from './constants.js';
export type * from './types.js';
export { QemuStreamParser, parseStream, type QemuStreamParserOptions, type QemuStreamParserStats } from './parser.js';
export {
  QemuStreamWriter, writeEvent, serializeEvents, eventByteLength, ramRecordHeader, ramRecordHeaderLength, writeRamRecordHeader, writeRamRecord, type ByteSink,
} from './writer.js';
export { PageMirror, type PageMirrorOptions } from './page-mirror.js';
export { DirectRam, type DirectRamStats } from './direct-ram.js';
export { OPAQUE_RECORD_ID, VERBATIM_RECORD_ID, OPAQUE_PIECE_BYTES, parseRecordHeader, parseVerbatimRecord } from './envelope.js';
export { StreamSourceEncoder, StreamDestinationDecoder, type StreamPipelineOptions, type SourceEncoderStats } from './pipeline.js';
export { runAnalyze, type AnalyzeReport, type CodecAccount } from './analyze.js';
