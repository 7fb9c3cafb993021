/**
 * wire/: the framed, versioned protocol between source and destination agents. This file is the
 * folder's only public surface; PROTOCOL.md is its specification.
 */

export * from './types.js';
export {
  encodeFrame, encodeHello, encodeHelloAck, encodeRoundStart, encodeRoundEnd, encodeStopCopy, encodeDigest,
  encodeResult, encodeAbort, encodeAbortFor, encodePing, encodePong, encodeControl,
  MAX_HANDSHAKE_BODY_BYTES, MAX_TEXT_BYTES, MAX_DIGEST_BYTES,
  type EncodeOptions, type RoundlessOptions,
} from './encode.js';
export { checkFrame, createFrameCheck, decodeFrame, decodeControl, FrameDecoder } from './decode.js';
export {
  PageBatchBuilder, forEachPageRecord, countPageRecords,
  PAGES_BODY_HEADER_BYTES, PAGE_RECORD_HEADER_BYTES, MAX_RECORD_PAYLOAD_BYTES, MIN_BATCH_FRAME_BYTES,
  type PageRecordVisitor,
} from './page-batch.js';
export { validateHello, validateHelloAck, negotiate, refusalAck, checkHelloAck } from './handshake.js';
export { ReceiverSequence, type ReceiverState } from './sequence.js';
export { frameTypeName } from './frame-header.js';
