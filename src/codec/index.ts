/** Page codecs: the only public surface of src/codec. */

export type { BlockCodecName, CodecName, CodecOptions, EncodeChoice, PageCodec } from './types.js';
export { BLOCK_CODEC_IDS, CODEC_IDS } from './types.js';
export {
  BLOCK_CODECS, BLOCK_MASK_BYTES, MAX_BLOCK_PAGES, blockCodecById, blockCodecNames, blockCodecOf, blockFamilyOf, blockMaskCount, checkBlockPages, getBlockCodec, memberCodecsOf, xorBytes,
  type BlockCodec, type BlockFamily, type DecodedBlock,
} from './block.js';
export { CodecRegistry, codecNames, defaultCodecRegistry, getCodec, getCodecById } from './registry.js';
export { adaptiveCodec, encodeBest } from './adaptive.js';
export { lz4Codec } from './lz4.js';
export { lz4DeltaCodec } from './lz4-delta.js';
export { rawCodec } from './raw.js';
export { ZSTD_DEFAULT_LEVEL, ZSTD_LEVEL_RANGE, checkZstdLevel, createZstdCodec, zstdCodec } from './zstd.js';
export { createZstdDeltaCodec, zstdDeltaCodec } from './zstd-delta.js';
export { copyBytes } from './copy.js';
export { XBZRLE_MAX_PAGE_SIZE, xbzrleCodec, xbzrleDecode, xbzrleEncode, xbzrleValidate } from './xbzrle.js';
export { isZeroPage, zeroCodec } from './zero.js';
export { ULEB128_SMALL_MAX, uleb128SmallDecode, uleb128SmallEncode, uleb128SmallLength } from './uleb128.js';
