/*
 * livemig_native: LZ4 block and zstd frame codecs for page payloads, over the system's liblz4.so.1
 * and libzstd.so.1, via plain N-API (node_api.h only, so one binary serves every Node ABI >= napi 8).
 *
 * Every function writes into caller-owned TypedArrays and allocates nothing per call: each addon
 * instance (main thread or worker) owns one LZ4 state, one ZSTD_CCtx, one ZSTD_DCtx and one scratch
 * page, freed with the instance.
 *
 *   lz4Compress(src, dst[, maxBytes])          -> n > 0 bytes written | 0 does not fit
 *   lz4Decompress(src, dst)                    -> n >= 0 bytes produced | E_* < 0
 *   lz4DeltaCompress(old, page, dst[, maxBytes]) -> n > 0 | 0 does not fit | DELTA_UNCHANGED (-1)
 *   lz4DeltaDecompress(src, page)              -> page.length | E_* < 0 (page untouched)
 *   lz4DecompressSystem(src, dst)              -> liblz4's LZ4_decompress_safe result
 *   zstdCompress(src, dst, level[, maxBytes])  -> n > 0 bytes written | 0 does not fit
 *   zstdDecompress(src, dst)                   -> dst.length | E_* < 0
 *   zstdDeltaCompress(old, page, dst, level[, maxBytes]) -> n > 0 | 0 does not fit | DELTA_UNCHANGED
 *   zstdDeltaDecompress(src, page)             -> page.length | E_* < 0 (page untouched)
 *   zstdCompressBlock(src, dst, level[, maxBytes]) -> as zstdCompress, for src up to MAX_BLOCK_BYTES
 *   zstdDecompressBlock(src, dst)              -> dst.length | E_* < 0, for dst up to MAX_BLOCK_BYTES
 *   blockCompressAsync(src, dst, level|null, maxBytes, done) -> a block compressed on libuv's pool
 *   mapSharedFile(path, length)                -> ArrayBuffer over mmap(MAP_SHARED) of the file's first length bytes
 *
 * The two *Block functions serve multi-page blocks (src/codec/block.ts): one frame over up to 64
 * concatenated pages. The LZ4 functions need no block variant: they already take any length.
 *
 * zstd payloads are one magicless frame (no magic number, no content size, no checksum, no
 * dictionary id): a 2-byte frame header plus a 3-byte block header per block, see zstd_frame_walk.
 *
 * Compression is liblz4's (LZ4_compress_fast_extState, acceleration 1). Decoding is our own strict
 * single-pass decoder (see decode_block for why); lz4DecompressSystem exposes liblz4's decoder
 * for differential tests and benchmarks.
 */
/* open(O_CLOEXEC), mmap(MAP_POPULATE): POSIX.1-2008 and Linux's extras (the build is -std=c11). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <node_api.h>

#include "lz4_api.h"
#include "zstd_api.h"

/* Largest page the delta functions accept: the scratch size. */
#define SCRATCH_BYTES 65536

/* Largest multi-page block the zstd *Block functions take: 64 pages of 64 KiB. */
#define MAX_BLOCK_BYTES (64 * 65536)

/* Return values; mirrored in src/codec/native.ts. */
#define DELTA_UNCHANGED (-1)
#define E_TRUNCATED (-2) /* input ends inside a sequence, or is empty */
#define E_MALFORMED (-3) /* offset 0 or before the start, trailing bytes, end-of-block rules */
#define E_OVERRUN (-4)   /* the block would produce more than dst.length bytes */
#define E_SHORT (-5)     /* a valid block, but fewer bytes than the page (delta only) */

typedef struct {
  void *state;      /* LZ4_sizeofState() bytes */
  uint8_t *scratch; /* SCRATCH_BYTES, 16-byte aligned by malloc */
  ZSTD_CCtx *cctx;  /* magicless, no content size / checksum / dict id; level set per call */
  ZSTD_DCtx *dctx;  /* magicless */
  uint8_t *zout;    /* ZSTD_compressBound(SCRATCH_BYTES) bytes: where frames are compressed to */
  size_t zout_len;
  int zstd_level;   /* the level cctx holds now, so a call sets it only when it changes */
  uint8_t *bout;    /* grown on demand to ZSTD_compressBound(block): where block frames go */
  size_t bout_len;
} instance_t;

typedef struct {
  uint8_t *data;
  size_t len; /* bytes, not elements */
} bytes_t;

static size_t element_size(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: return 1;
    case napi_int16_array: case napi_uint16_array: return 2;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
    default: return 8; /* float64, bigint64, biguint64 */
  }
}

static int throw_type(napi_env env, const char *code, const char *msg) {
  napi_throw_type_error(env, code, msg);
  return 0;
}

/* Reads a TypedArray argument; napi already adjusts `data` by byteOffset. Returns 0 after throwing. */
static int get_bytes(napi_env env, napi_value v, const char *msg, bytes_t *out) {
  napi_typedarray_type t;
  size_t n = 0;
  void *data = NULL;
  if (napi_get_typedarray_info(env, v, &t, &n, &data, NULL, NULL) != napi_ok) {
    return throw_type(env, "ERR_INVALID_ARG_TYPE", msg);
  }
  out->data = (uint8_t *)data;
  out->len = n * element_size(t);
  return 1;
}

/* Optional byte limit: undefined means `fallback`; otherwise an integer in [0, fallback]. */
static int get_limit(napi_env env, napi_value v, size_t fallback, size_t *out) {
  napi_valuetype vt;
  double d;
  napi_typeof(env, v, &vt);
  if (vt == napi_undefined) {
    *out = fallback;
    return 1;
  }
  if (vt != napi_number || napi_get_value_double(env, v, &d) != napi_ok || d != d || d < 0 ||
      d != (double)(size_t)d || (size_t)d > fallback) {
    return throw_type(env, "ERR_INVALID_ARG_VALUE",
                      "maxBytes must be an integer between 0 and dst.length");
  }
  *out = (size_t)d;
  return 1;
}

static int overlaps(const bytes_t *a, const bytes_t *b) {
  return a->len && b->len && a->data < b->data + b->len && b->data < a->data + a->len;
}

static napi_value int_value(napi_env env, int n) {
  napi_value v;
  napi_create_int32(env, n, &v);
  return v;
}

static int clamp_int(size_t n) { return n > INT_MAX ? INT_MAX : (int)n; }

/*
 * Decodes one raw LZ4 block into dst[0, cap) in a single pass and returns the bytes produced, or an
 * E_* code. Written from the LZ4 block format spec rather than calling LZ4_decompress_safe, because
 * liblz4 1.9.4 accepts match offset 0 (output then depends on stale dst bytes) and a separate
 * validating walk before liblz4 cost 40% of decode speed on binary pages.
 *
 * Grammar: sequence* last; sequence = token [lit-ext] literals offset:u16le [ml-ext];
 * last = token [lit-ext] literals (ends exactly at the end of input); token = lit:4 | (ml-4):4;
 * an ext is 255* then one byte < 255, each added to the 15 in the token's nibble.
 * End-of-block rules (relative to the bytes produced): the last match starts >= 12 bytes before
 * the end and ends >= 5 bytes before it.
 *
 * Safety: every read is checked against iend and every write against oend before it happens;
 * fast paths copy 8/16-byte chunks only when that much room is left in both buffers, so bytes of
 * dst past the returned length may be overwritten (never past cap).
 */
static int decode_block(const uint8_t *ip, size_t n, uint8_t *const dst, size_t cap) {
  const uint8_t *const iend = ip + n;
  uint8_t *op = dst;
  uint8_t *const oend = dst + cap;
  size_t last_match_start = 0, last_match_end = 0, produced;
  unsigned b;
  if (n == 0) return E_TRUNCATED;
  for (;;) {
    const unsigned token = *ip++;
    size_t lit = token >> 4, ml, off;
    const uint8_t *match;
    uint8_t *cpy;
    /* Fast path for the common sequence (lit <= 14, match <= 18 at offset >= 8) far from both ends:
     * 19 input bytes left cover literals, offset and a next token; 40 output bytes cover the 16-byte
     * literal copy and three 8-byte match copies. */
    if (__builtin_expect(lit < 15 && (token & 15) != 15 && iend - ip >= 19 && oend - op >= 40, 1)) {
      memcpy(op, ip, 16);
      ip += lit;
      op += lit;
      off = (size_t)ip[0] | ((size_t)ip[1] << 8);
      ip += 2;
      if (__builtin_expect(off >= 8 && off <= (size_t)(op - dst), 1)) {
        ml = (token & 15) + 4;
        match = op - off;
        memcpy(op, match, 8);
        memcpy(op + 8, match + 8, 8);
        memcpy(op + 16, match + 16, 8);
        last_match_start = (size_t)(op - dst);
        last_match_end = last_match_start + ml;
        op += ml;
        continue;
      }
      if (off == 0 || off > (size_t)(op - dst)) return E_MALFORMED;
      ml = (token & 15) + 4;
      goto copy_match;
    }
    if (lit == 15) {
      do {
        if (ip == iend) return E_TRUNCATED;
        b = *ip++;
        lit += b;
      } while (b == 255);
    }
    if ((size_t)(iend - ip) < lit) return E_TRUNCATED;
    if ((size_t)(oend - op) < lit) return E_OVERRUN;
    if ((size_t)(iend - ip) - lit >= 16 && (size_t)(oend - op) - lit >= 16) {
      /* 16 spare bytes in both buffers: copy in chunks, overshooting into bytes written later. */
      uint8_t *const lend = op + lit;
      const uint8_t *s = ip;
      uint8_t *d = op;
      do { memcpy(d, s, 16); d += 16; s += 16; } while (d < lend);
    } else {
      memcpy(op, ip, lit);
    }
    ip += lit;
    op += lit;
    if (ip == iend) break;
    /* Bytes after a complete page can only overrun it: call them trailing garbage. */
    if (op == oend) return E_MALFORMED;
    if (iend - ip < 2) return E_TRUNCATED;
    off = (size_t)ip[0] | ((size_t)ip[1] << 8);
    ip += 2;
    if (off == 0 || off > (size_t)(op - dst)) return E_MALFORMED;
    ml = (token & 15) + 4;
    if ((token & 15) == 15) {
      do {
        if (ip == iend) return E_TRUNCATED;
        b = *ip++;
        ml += b;
      } while (b == 255);
    }
  copy_match:
    if ((size_t)(oend - op) < ml) return E_OVERRUN;
    /* A block ends with a literals-only sequence, never with a match. */
    if (ip == iend) return E_TRUNCATED;
    match = op - off;
    cpy = op + ml;
    last_match_start = (size_t)(op - dst);
    last_match_end = last_match_start + ml;
    if (oend - cpy >= 16) {
      if (off >= 16) {
        do { memcpy(op, match, 16); op += 16; match += 16; } while (op < cpy);
      } else if (off >= 8) {
        do { memcpy(op, match, 8); op += 8; match += 8; } while (op < cpy);
      } else {
        /* Period < 8: lay down one multiple of the period >= 8 bytewise, then copy 8-byte chunks
         * from that far back, which holds the same bytes because the output is periodic. */
        size_t step = off;
        uint8_t *stop;
        while (step < 8) step += off; /* terminates: off >= 1 was checked above */
        stop = op + step;
        while (op < stop) *op++ = *match++;
        match = op - step;
        while (op < cpy) { memcpy(op, match, 8); op += 8; match += 8; }
      }
    } else {
      /* The match ends within 16 bytes of the output's end, where the chunked copies above would
       * write past it: exact 8-byte chunks (never past cpy), then bytes. A page's trailing run of
       * zeros is such a match, often most of the page; bytewise it cost 0.5 ns per byte. */
      if (off < 8) {
        size_t step = off;
        uint8_t *stop;
        while (step < 8) step += off;
        stop = (size_t)(cpy - op) > step ? op + step : cpy;
        while (op < stop) *op++ = *match++;
        match = op - step;
      }
      while (cpy - op >= 8) { memcpy(op, match, 8); op += 8; match += 8; }
      while (op < cpy) *op++ = *match++;
    }
    op = cpy;
  }
  produced = (size_t)(op - dst);
  if (last_match_end != 0 && (last_match_start + 12 > produced || last_match_end + 5 > produced)) {
    return E_MALFORMED;
  }
  return (int)produced;
}

/* out = a ^ b; returns nonzero when any byte differs. Word loads via memcpy: views may be unaligned. */
static int xor_bytes(uint8_t *out, const uint8_t *a, const uint8_t *b, size_t n) {
  uint64_t acc = 0, x, y;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    x ^= y;
    memcpy(out + i, &x, 8);
    acc |= x;
  }
  for (; i < n; i++) {
    out[i] = a[i] ^ b[i];
    acc |= out[i];
  }
  return acc != 0;
}

static instance_t *instance(napi_env env) {
  void *p = NULL;
  napi_get_instance_data(env, &p);
  return (instance_t *)p;
}

#define GET_ARGS(N)                                                          \
  size_t argc = (N);                                                         \
  napi_value argv[(N)];                                                      \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;

static napi_value lz4_compress(napi_env env, napi_callback_info info) {
  bytes_t src, dst;
  size_t limit;
  GET_ARGS(3);
  if (!get_bytes(env, argv[0], "src must be a Uint8Array", &src)) return NULL;
  if (!get_bytes(env, argv[1], "dst must be a Uint8Array", &dst)) return NULL;
  if (!get_limit(env, argv[2], dst.len, &limit)) return NULL;
  if (src.len > LZ4_MAX_INPUT_SIZE) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "src is larger than one LZ4 block allows (0x7E000000 bytes)");
    return NULL;
  }
  if (overlaps(&src, &dst)) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "src and dst must not overlap");
    return NULL;
  }
  return int_value(env, LZ4_compress_fast_extState(instance(env)->state, (const char *)src.data,
                                                   (char *)dst.data, (int)src.len, clamp_int(limit), 1));
}

/*
 * copyBytes(src, dst): memcpy of src into the start of dst; returns the bytes copied. V8 copies
 * into and out of a SharedArrayBuffer (guest memory) with relaxed atomics, byte by byte when the
 * two sides are not equally aligned: about 4x slower than this.
 */
static napi_value copy_bytes(napi_env env, napi_callback_info info) {
  bytes_t src, dst;
  GET_ARGS(2);
  if (!get_bytes(env, argv[0], "src must be a Uint8Array", &src)) return NULL;
  if (!get_bytes(env, argv[1], "dst must be a Uint8Array", &dst)) return NULL;
  if (dst.len < src.len) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "dst is shorter than src");
    return NULL;
  }
  memmove(dst.data, src.data, src.len);
  return int_value(env, (int)src.len);
}

/* Unmaps a mapSharedFile buffer when V8 collects it; `hint` carries the length. */
static void unmap_file(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

/*
 * mapSharedFile(path, length): the first `length` bytes of the regular file `path`, mapped shared
 * and writable, as an ArrayBuffer (unmapped when collected). MAP_POPULATE takes the page faults
 * now, while no migration waits, instead of one per page during it. The destination agent writes pages
 * straight into a destination QEMU's RAM file this way (memory-backend-file,share=on) instead of
 * sending them through QEMU's socket. Throws when the file is missing, not regular or shorter.
 */
static napi_value map_shared_file(napi_env env, napi_callback_info info) {
  char path[4096];
  size_t path_len = 0;
  double d;
  struct stat st;
  char msg[4352];
  napi_value ab;
  GET_ARGS(2);
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_len) != napi_ok || path_len == 0 || path_len >= sizeof path - 1) {
    throw_type(env, "ERR_INVALID_ARG_TYPE", "path must be a non-empty string");
    return NULL;
  }
  if (napi_get_value_double(env, argv[1], &d) != napi_ok || d != d || d < 1 || d != (double)(size_t)d) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "length must be a positive integer");
    return NULL;
  }
  int fd = open(path, O_RDWR | O_CLOEXEC);
  const char *why = fd < 0 || fstat(fd, &st) != 0 ? strerror(errno)
                    : !S_ISREG(st.st_mode)          ? "not a regular file"
                    : (size_t)st.st_size < (size_t)d ? "the file is shorter than the length asked for"
                                                     : NULL;
  if (why != NULL) {
    snprintf(msg, sizeof msg, "cannot map %s: %s", path, why);
    if (fd >= 0) close(fd);
    napi_throw_error(env, "LIVEMIG_E_SHARED_RAM", msg);
    return NULL;
  }
  void *p = mmap(NULL, (size_t)d, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  int err = errno;
  close(fd);
  if (p == MAP_FAILED) {
    snprintf(msg, sizeof msg, "cannot map %s: %s", path, strerror(err));
    napi_throw_error(env, "LIVEMIG_E_SHARED_RAM", msg);
    return NULL;
  }
  if (napi_create_external_arraybuffer(env, p, (size_t)d, unmap_file, (void *)(uintptr_t)(size_t)d, &ab) != napi_ok) {
    munmap(p, (size_t)d);
    return NULL;
  }
  return ab;
}

/* The (src, dst) arguments of a block decoder: two non-overlapping buffers, src within one block. */
static int get_decode_args(napi_env env, napi_value *argv, bytes_t *src, bytes_t *dst) {
  if (!get_bytes(env, argv[0], "src must be a Uint8Array", src)) return 0;
  if (!get_bytes(env, argv[1], "dst must be a Uint8Array", dst)) return 0;
  if (src->len > LZ4_MAX_INPUT_SIZE) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "src is larger than one LZ4 block allows (0x7E000000 bytes)");
    return 0;
  }
  if (overlaps(src, dst)) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "src and dst must not overlap");
    return 0;
  }
  return 1;
}

static napi_value lz4_decompress(napi_env env, napi_callback_info info) {
  bytes_t src, dst;
  GET_ARGS(2);
  if (!get_decode_args(env, argv, &src, &dst)) return NULL;
  return int_value(env, decode_block(src.data, src.len, dst.data, (size_t)clamp_int(dst.len)));
}

/* liblz4's own decoder, unvalidated: for differential tests and benchmarks only (accepts offset 0). */
static napi_value lz4_decompress_system(napi_env env, napi_callback_info info) {
  bytes_t src, dst;
  GET_ARGS(2);
  if (!get_decode_args(env, argv, &src, &dst)) return NULL;
  return int_value(env, LZ4_decompress_safe((const char *)src.data, (char *)dst.data, (int)src.len,
                                            clamp_int(dst.len)));
}

static napi_value lz4_delta_compress(napi_env env, napi_callback_info info) {
  bytes_t old, page, dst;
  size_t limit;
  instance_t *inst;
  GET_ARGS(4);
  if (!get_bytes(env, argv[0], "old must be a Uint8Array", &old)) return NULL;
  if (!get_bytes(env, argv[1], "page must be a Uint8Array", &page)) return NULL;
  if (!get_bytes(env, argv[2], "dst must be a Uint8Array", &dst)) return NULL;
  if (!get_limit(env, argv[3], dst.len, &limit)) return NULL;
  if (old.len != page.len) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "old and page must have the same byte length");
    return NULL;
  }
  if (page.len > SCRATCH_BYTES) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "page is larger than 65536 bytes, the delta scratch size");
    return NULL;
  }
  inst = instance(env);
  if (!xor_bytes(inst->scratch, old.data, page.data, page.len)) return int_value(env, DELTA_UNCHANGED);
  return int_value(env, LZ4_compress_fast_extState(inst->state, (const char *)inst->scratch,
                                                   (char *)dst.data, (int)page.len, clamp_int(limit), 1));
}

static napi_value lz4_delta_decompress(napi_env env, napi_callback_info info) {
  bytes_t src, page;
  instance_t *inst;
  int rc;
  GET_ARGS(2);
  if (!get_bytes(env, argv[0], "src must be a Uint8Array", &src)) return NULL;
  if (!get_bytes(env, argv[1], "page must be a Uint8Array", &page)) return NULL;
  if (page.len > SCRATCH_BYTES) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "page is larger than 65536 bytes, the delta scratch size");
    return NULL;
  }
  if (src.len > LZ4_MAX_INPUT_SIZE) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "src is larger than one LZ4 block allows (0x7E000000 bytes)");
    return NULL;
  }
  inst = instance(env);
  rc = decode_block(src.data, src.len, inst->scratch, page.len);
  if (rc < 0) return int_value(env, rc);
  /* Only a delta covering the whole page may touch it: a short one would leave it half-updated. */
  if ((size_t)rc != page.len) return int_value(env, E_SHORT);
  xor_bytes(page.data, page.data, inst->scratch, page.len);
  return int_value(env, rc);
}

/* Largest block a zstd frame may hold (Block_Maximum_Size, RFC 8878 3.1.1.2.4). */
#define ZSTD_BLOCK_MAX (128 * 1024)

/*
 * Walks one magicless zstd frame header and its block headers (RFC 8878 3.1.1) without decoding,
 * so that a payload holding more or less than exactly one frame, or one that declares a size other
 * than `cap`, is refused before anything is written. Returns 0 when src is exactly one frame whose
 * known sizes fit `cap`, or an E_* code. libzstd then decodes and checks the block contents.
 *
 * frame  = fhd:u8 [window:u8] [dict-id:0/1/2/4] [content-size:0/1/2/4/8] block* last-block [checksum:u32]
 * fhd    = fcs-flag:2 (bits 7-6) | single-segment:1 | unused:1 | reserved:1 (0) | checksum:1 | dict-id-flag:2
 * block  = header:u24le (last:1 | type:2 | size:21) then raw: size bytes | rle: 1 byte | compressed: size bytes
 */
static int zstd_frame_walk(const uint8_t *src, size_t n, size_t cap) {
  static const size_t DID_BYTES[4] = {0, 1, 2, 4};
  static const size_t FCS_BYTES[4] = {0, 2, 4, 8};
  size_t pos, fcs_bytes, produced = 0;
  unsigned fhd, single, last;
  if (n == 0) return E_TRUNCATED;
  fhd = src[0];
  if (fhd & 0x08) return E_MALFORMED; /* reserved bit */
  /* A frame that names a dictionary cannot be decoded here: livemig uses none. */
  if ((fhd & 3) != 0) return E_MALFORMED;
  single = (fhd >> 5) & 1;
  fcs_bytes = FCS_BYTES[fhd >> 6];
  if (single && fcs_bytes == 0) fcs_bytes = 1;
  pos = 1 + (single ? 0 : 1) + DID_BYTES[fhd & 3];
  if (n < pos + fcs_bytes) return E_TRUNCATED;
  if (fcs_bytes) {
    uint64_t fcs = 0;
    size_t k;
    for (k = 0; k < fcs_bytes; k++) fcs |= (uint64_t)src[pos + k] << (8 * k);
    if (fcs_bytes == 2) fcs += 256;
    if (fcs > cap) return E_OVERRUN;
    if (fcs < cap) return E_SHORT;
    pos += fcs_bytes;
  }
  do {
    uint32_t h, size;
    unsigned type;
    if (n - pos < 3) return E_TRUNCATED;
    h = (uint32_t)src[pos] | ((uint32_t)src[pos + 1] << 8) | ((uint32_t)src[pos + 2] << 16);
    pos += 3;
    last = h & 1;
    type = (h >> 1) & 3;
    size = h >> 3;
    if (type == 3 || size > ZSTD_BLOCK_MAX) return E_MALFORMED;
    /* raw and RLE blocks state how much they produce: an early overrun check for free */
    if (type != 2) {
      produced += size;
      if (produced > cap) return E_OVERRUN;
    }
    if (type == 1) size = 1;
    if (n - pos < size) return E_TRUNCATED;
    pos += size;
  } while (!last);
  if (fhd & 0x04) {
    if (n - pos < 4) return E_TRUNCATED;
    pos += 4;
  }
  /* A second frame after the first would be decoded too: call it trailing garbage. */
  return pos == n ? 0 : E_MALFORMED;
}

/* Decodes one magicless frame that must produce exactly cap bytes into dst. Returns cap or E_*. */
static int zstd_decode_page(ZSTD_DCtx *dctx, const uint8_t *src, size_t n, uint8_t *dst, size_t cap) {
  size_t r;
  int rc = zstd_frame_walk(src, n, cap);
  if (rc < 0) return rc;
  r = ZSTD_decompressDCtx(dctx, dst, cap, src, n);
  if (ZSTD_isError(r)) {
    switch (ZSTD_getErrorCode(r)) {
      case ZSTD_error_dstSize_tooSmall: return E_OVERRUN;
      case ZSTD_error_srcSize_wrong: return E_TRUNCATED;
      default: return E_MALFORMED;
    }
  }
  return r == cap ? (int)cap : E_SHORT;
}

/* Level argument: an integer in [ZSTD_minCLevel(), ZSTD_maxCLevel()]. Returns 0 after throwing. */
static int get_level(napi_env env, napi_value v, int *out) {
  napi_valuetype vt;
  double d;
  napi_typeof(env, v, &vt);
  if (vt != napi_number || napi_get_value_double(env, v, &d) != napi_ok || d != d ||
      d < (double)ZSTD_minCLevel() || d > (double)ZSTD_maxCLevel() || d != (double)(int)d) {
    return throw_type(env, "ERR_INVALID_ARG_VALUE", "level must be an integer zstd compression level");
  }
  *out = (int)d;
  return 1;
}

/*
 * Compresses src into dst[0, limit) at `level`; returns bytes written or 0 when it does not fit.
 * libzstd needs about 8 bytes of room past the frame it writes (its entropy coder's bit stream), so
 * it refuses a dst that would fit the frame exactly, and its output can depend on the room given.
 * Compressing into zout (always large enough) and copying costs ~0.1 us a page and makes the
 * result independent of the budget: a frame fits exactly when its size is <= limit.
 */
static napi_value zstd_compress_via(napi_env env, instance_t *inst, uint8_t *zout, size_t zout_len,
                                    const uint8_t *src, size_t n, uint8_t *dst, size_t limit, int level) {
  size_t r;
  if (level != inst->zstd_level) {
    r = ZSTD_CCtx_setParameter(inst->cctx, ZSTD_c_compressionLevel, level);
    if (ZSTD_isError(r)) {
      napi_throw_error(env, NULL, ZSTD_getErrorName(r));
      return NULL;
    }
    inst->zstd_level = level;
  }
  r = ZSTD_compress2(inst->cctx, zout, zout_len, src, n);
  if (ZSTD_isError(r)) {
    napi_throw_error(env, NULL, ZSTD_getErrorName(r));
    return NULL;
  }
  if (r > limit) return int_value(env, 0);
  memcpy(dst, zout, r);
  return int_value(env, (int)r);
}

static napi_value zstd_compress_into(napi_env env, instance_t *inst, const uint8_t *src, size_t n,
                                     uint8_t *dst, size_t limit, int level) {
  return zstd_compress_via(env, inst, inst->zout, inst->zout_len, src, n, dst, limit, level);
}

static napi_value zstd_compress(napi_env env, napi_callback_info info) {
  bytes_t src, dst;
  size_t limit;
  int level;
  GET_ARGS(4);
  if (!get_bytes(env, argv[0], "src must be a Uint8Array", &src)) return NULL;
  if (!get_bytes(env, argv[1], "dst must be a Uint8Array", &dst)) return NULL;
  if (!get_level(env, argv[2], &level)) return NULL;
  if (!get_limit(env, argv[3], dst.len, &limit)) return NULL;
  if (src.len > SCRATCH_BYTES) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "src is larger than 65536 bytes, the largest page");
    return NULL;
  }
  if (overlaps(&src, &dst)) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "src and dst must not overlap");
    return NULL;
  }
  return zstd_compress_into(env, instance(env), src.data, src.len, dst.data, limit, level);
}

static napi_value zstd_decompress(napi_env env, napi_callback_info info) {
  bytes_t src, dst;
  GET_ARGS(2);
  if (!get_bytes(env, argv[0], "src must be a Uint8Array", &src)) return NULL;
  if (!get_bytes(env, argv[1], "dst must be a Uint8Array", &dst)) return NULL;
  if (dst.len > SCRATCH_BYTES) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "dst is larger than 65536 bytes, the largest page");
    return NULL;
  }
  if (overlaps(&src, &dst)) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "src and dst must not overlap");
    return NULL;
  }
  return int_value(env, zstd_decode_page(instance(env)->dctx, src.data, src.len, dst.data, dst.len));
}

static napi_value zstd_delta_compress(napi_env env, napi_callback_info info) {
  bytes_t old, page, dst;
  size_t limit;
  int level;
  instance_t *inst;
  GET_ARGS(5);
  if (!get_bytes(env, argv[0], "old must be a Uint8Array", &old)) return NULL;
  if (!get_bytes(env, argv[1], "page must be a Uint8Array", &page)) return NULL;
  if (!get_bytes(env, argv[2], "dst must be a Uint8Array", &dst)) return NULL;
  if (!get_level(env, argv[3], &level)) return NULL;
  if (!get_limit(env, argv[4], dst.len, &limit)) return NULL;
  if (old.len != page.len) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "old and page must have the same byte length");
    return NULL;
  }
  if (page.len > SCRATCH_BYTES) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "page is larger than 65536 bytes, the delta scratch size");
    return NULL;
  }
  inst = instance(env);
  if (!xor_bytes(inst->scratch, old.data, page.data, page.len)) return int_value(env, DELTA_UNCHANGED);
  return zstd_compress_into(env, inst, inst->scratch, page.len, dst.data, limit, level);
}

static napi_value zstd_delta_decompress(napi_env env, napi_callback_info info) {
  bytes_t src, page;
  instance_t *inst;
  int rc;
  GET_ARGS(2);
  if (!get_bytes(env, argv[0], "src must be a Uint8Array", &src)) return NULL;
  if (!get_bytes(env, argv[1], "page must be a Uint8Array", &page)) return NULL;
  if (page.len > SCRATCH_BYTES) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "page is larger than 65536 bytes, the delta scratch size");
    return NULL;
  }
  inst = instance(env);
  /* Decode into scratch first: only a delta covering the whole page may touch it. */
  rc = zstd_decode_page(inst->dctx, src.data, src.len, inst->scratch, page.len);
  if (rc < 0) return int_value(env, rc);
  xor_bytes(page.data, page.data, inst->scratch, page.len);
  return int_value(env, rc);
}

/* zstdCompressBlock(src, dst, level[, maxBytes]): zstdCompress for a multi-page block. */
static napi_value zstd_compress_block(napi_env env, napi_callback_info info) {
  bytes_t src, dst;
  size_t limit, bound;
  int level;
  instance_t *inst;
  GET_ARGS(4);
  if (!get_bytes(env, argv[0], "src must be a Uint8Array", &src)) return NULL;
  if (!get_bytes(env, argv[1], "dst must be a Uint8Array", &dst)) return NULL;
  if (!get_level(env, argv[2], &level)) return NULL;
  if (!get_limit(env, argv[3], dst.len, &limit)) return NULL;
  if (src.len > MAX_BLOCK_BYTES) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "src is larger than MAX_BLOCK_BYTES (64 pages of 64 KiB)");
    return NULL;
  }
  if (overlaps(&src, &dst)) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "src and dst must not overlap");
    return NULL;
  }
  inst = instance(env);
  bound = ZSTD_compressBound(src.len);
  if (inst->bout_len < bound) {
    /* Grown once to the largest block seen (about 260 KiB for 64 pages of 4 KiB), then reused. */
    uint8_t *grown = (uint8_t *)realloc(inst->bout, bound);
    if (!grown) {
      napi_throw_error(env, NULL, "livemig_native: out of memory for the zstd block output");
      return NULL;
    }
    inst->bout = grown;
    inst->bout_len = bound;
  }
  return zstd_compress_via(env, inst, inst->bout, inst->bout_len, src.data, src.len, dst.data, limit, level);
}

/* zstdDecompressBlock(src, dst): exactly one magicless frame producing exactly dst.length bytes. */
static napi_value zstd_decompress_block(napi_env env, napi_callback_info info) {
  bytes_t src, dst;
  GET_ARGS(2);
  if (!get_bytes(env, argv[0], "src must be a Uint8Array", &src)) return NULL;
  if (!get_bytes(env, argv[1], "dst must be a Uint8Array", &dst)) return NULL;
  if (dst.len > MAX_BLOCK_BYTES) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "dst is larger than MAX_BLOCK_BYTES (64 pages of 64 KiB)");
    return NULL;
  }
  if (overlaps(&src, &dst)) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "src and dst must not overlap");
    return NULL;
  }
  return int_value(env, zstd_decode_page(instance(env)->dctx, src.data, src.len, dst.data, dst.len));
}

/* Sets livemig's frame parameters (magicless, no content size / checksum / dict id, level 1). */
static int zstd_configure_cctx(ZSTD_CCtx *cctx) {
  return !ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless)) &&
         !ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)) &&
         !ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0)) &&
         !ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0)) &&
         !ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1));
}

/* Creates the two contexts with livemig's frame parameters; returns 0 when libzstd refuses one. */
static int zstd_init(instance_t *inst) {
  inst->cctx = ZSTD_createCCtx();
  inst->dctx = ZSTD_createDCtx();
  inst->zout_len = ZSTD_compressBound(SCRATCH_BYTES);
  inst->zout = (uint8_t *)malloc(inst->zout_len);
  if (!inst->cctx || !inst->dctx || !inst->zout) return 0;
  inst->zstd_level = 1;
  return zstd_configure_cctx(inst->cctx) &&
         !ZSTD_isError(ZSTD_DCtx_setParameter(inst->dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless));
}

/*
 * blockCompressAsync(src, dst, level, maxBytes, done): compresses one multi-page block on libuv's
 * thread pool, so the caller's thread parses the next pages meanwhile. level is a zstd level, or
 * null for LZ4. done(n) runs on the caller's thread: n > 0 bytes written to dst, 0 does not fit
 * maxBytes, -1 the codec failed (done's second argument says why). src and dst are held until then
 * and must not be touched by the caller. Each pool thread keeps its own contexts and output buffer
 * for the life of the process (pool threads are never joined), so a call allocates only its job.
 */
typedef struct {
  napi_async_work work;
  napi_ref src_ref, dst_ref, done_ref;
  const uint8_t *src;
  size_t src_len;
  uint8_t *dst;
  size_t limit;
  int lz4;
  int level;
  int result;
  const char *error;
} block_job_t;

static _Thread_local ZSTD_CCtx *tl_cctx;
static _Thread_local int tl_level;
static _Thread_local uint8_t *tl_zout;
static _Thread_local void *tl_lz4_state;

static void block_job_run(napi_env env, void *data) {
  block_job_t *job = (block_job_t *)data;
  size_t bound = ZSTD_compressBound(MAX_BLOCK_BYTES), r;
  (void)env;
  if (job->lz4) {
    if (!tl_lz4_state && !(tl_lz4_state = malloc((size_t)LZ4_sizeofState()))) {
      job->result = -1, job->error = "out of memory for a pool thread's LZ4 state";
      return;
    }
    job->result = LZ4_compress_fast_extState(tl_lz4_state, (const char *)job->src, (char *)job->dst,
                                              (int)job->src_len, clamp_int(job->limit), 1);
    return;
  }
  if (!tl_cctx) {
    tl_cctx = ZSTD_createCCtx();
    tl_zout = (uint8_t *)malloc(bound);
    if (!tl_cctx || !tl_zout || !zstd_configure_cctx(tl_cctx)) {
      ZSTD_freeCCtx(tl_cctx), free(tl_zout), tl_cctx = NULL, tl_zout = NULL;
      job->result = -1, job->error = "libzstd refused a pool thread's context";
      return;
    }
    tl_level = 1;
  }
  if (job->level != tl_level) {
    r = ZSTD_CCtx_setParameter(tl_cctx, ZSTD_c_compressionLevel, job->level);
    if (ZSTD_isError(r)) {
      job->result = -1, job->error = ZSTD_getErrorName(r);
      return;
    }
    tl_level = job->level;
  }
  /* Into the thread's own buffer first, as zstd_compress_via does, so the result does not depend on maxBytes. */
  r = ZSTD_compress2(tl_cctx, tl_zout, bound, job->src, job->src_len);
  if (ZSTD_isError(r)) {
    job->result = -1, job->error = ZSTD_getErrorName(r);
    return;
  }
  if (r > job->limit) {
    job->result = 0;
    return;
  }
  memcpy(job->dst, tl_zout, r);
  job->result = (int)r;
}

static void block_job_done(napi_env env, napi_status status, void *data) {
  block_job_t *job = (block_job_t *)data;
  napi_value done, args[2], global;
  int ok = napi_get_reference_value(env, job->done_ref, &done) == napi_ok;
  if (status != napi_ok) job->result = -1, job->error = "the compression job was cancelled";
  napi_get_undefined(env, &args[1]);
  args[0] = int_value(env, job->result);
  if (job->error) napi_create_string_utf8(env, job->error, NAPI_AUTO_LENGTH, &args[1]);
  napi_delete_reference(env, job->src_ref);
  napi_delete_reference(env, job->dst_ref);
  napi_delete_reference(env, job->done_ref);
  napi_delete_async_work(env, job->work);
  free(job);
  napi_get_global(env, &global);
  /* A throwing callback surfaces as the process's uncaught exception, as any callback's would. */
  if (ok) napi_call_function(env, global, done, 2, args, NULL);
}

static napi_value block_compress_async(napi_env env, napi_callback_info info) {
  bytes_t src, dst;
  size_t limit;
  int level = 0, lz4;
  napi_valuetype vt;
  napi_value name;
  block_job_t *job;
  GET_ARGS(5);
  if (!get_bytes(env, argv[0], "src must be a Uint8Array", &src)) return NULL;
  if (!get_bytes(env, argv[1], "dst must be a Uint8Array", &dst)) return NULL;
  napi_typeof(env, argv[2], &vt);
  lz4 = vt == napi_null;
  if (!lz4 && !get_level(env, argv[2], &level)) return NULL;
  if (!get_limit(env, argv[3], dst.len, &limit)) return NULL;
  napi_typeof(env, argv[4], &vt);
  if (vt != napi_function) {
    throw_type(env, "ERR_INVALID_ARG_TYPE", "done must be a function");
    return NULL;
  }
  if (src.len == 0 || src.len > MAX_BLOCK_BYTES) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "src must hold 1 to MAX_BLOCK_BYTES (64 pages of 64 KiB) bytes");
    return NULL;
  }
  if (overlaps(&src, &dst)) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "src and dst must not overlap");
    return NULL;
  }
  job = (block_job_t *)calloc(1, sizeof(block_job_t));
  if (!job) {
    napi_throw_error(env, NULL, "livemig_native: out of memory for a compression job");
    return NULL;
  }
  job->src = src.data, job->src_len = src.len, job->dst = dst.data, job->limit = limit;
  job->lz4 = lz4, job->level = level;
  napi_create_string_utf8(env, "livemig:blockCompress", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[0], 1, &job->src_ref) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &job->dst_ref) != napi_ok ||
      napi_create_reference(env, argv[4], 1, &job->done_ref) != napi_ok ||
      napi_create_async_work(env, NULL, name, block_job_run, block_job_done, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    napi_throw_error(env, NULL, "livemig_native: could not queue a compression job");
    return NULL; /* the refs of a job that never ran stay: a leak only on this broken path */
  }
  return NULL;
}

static void free_instance(napi_env env, void *data, void *hint) {
  instance_t *inst = (instance_t *)data;
  (void)env;
  (void)hint;
  free(inst->state);
  free(inst->scratch);
  if (inst->cctx) ZSTD_freeCCtx(inst->cctx);
  if (inst->dctx) ZSTD_freeDCtx(inst->dctx);
  free(inst->zout);
  free(inst->bout);
  free(inst);
}

static int set_int(napi_env env, napi_value obj, const char *name, int n) {
  return napi_set_named_property(env, obj, name, int_value(env, n)) == napi_ok;
}

static int set_fn(napi_env env, napi_value obj, const char *name, napi_callback cb) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok &&
         napi_set_named_property(env, obj, name, fn) == napi_ok;
}

NAPI_MODULE_INIT() {
  instance_t *inst = (instance_t *)calloc(1, sizeof(instance_t));
  if (inst) {
    inst->state = malloc((size_t)LZ4_sizeofState());
    inst->scratch = (uint8_t *)malloc(SCRATCH_BYTES);
  }
  if (!inst || !inst->state || !inst->scratch) {
    if (inst) free_instance(env, inst, NULL);
    napi_throw_error(env, NULL, "livemig_native: out of memory allocating the LZ4 state");
    return NULL;
  }
  if (!zstd_init(inst)) {
    free_instance(env, inst, NULL);
    napi_throw_error(env, NULL, "livemig_native: libzstd refused a context or the magicless frame format (needs libzstd >= 1.4.0)");
    return NULL;
  }
  if (napi_set_instance_data(env, inst, free_instance, NULL) != napi_ok) {
    free_instance(env, inst, NULL);
    return NULL;
  }
  if (!set_fn(env, exports, "copyBytes", copy_bytes) ||
      !set_fn(env, exports, "mapSharedFile", map_shared_file) ||
      !set_fn(env, exports, "lz4Compress", lz4_compress) ||
      !set_fn(env, exports, "lz4Decompress", lz4_decompress) ||
      !set_fn(env, exports, "lz4DecompressSystem", lz4_decompress_system) ||
      !set_fn(env, exports, "lz4DeltaCompress", lz4_delta_compress) ||
      !set_fn(env, exports, "lz4DeltaDecompress", lz4_delta_decompress) ||
      !set_fn(env, exports, "zstdCompress", zstd_compress) ||
      !set_fn(env, exports, "zstdDecompress", zstd_decompress) ||
      !set_fn(env, exports, "zstdDeltaCompress", zstd_delta_compress) ||
      !set_fn(env, exports, "zstdDeltaDecompress", zstd_delta_decompress) ||
      !set_fn(env, exports, "zstdCompressBlock", zstd_compress_block) ||
      !set_fn(env, exports, "zstdDecompressBlock", zstd_decompress_block) ||
      !set_fn(env, exports, "blockCompressAsync", block_compress_async) ||
      !set_int(env, exports, "MAX_BLOCK_BYTES", MAX_BLOCK_BYTES) ||
      !set_int(env, exports, "ZSTD_VERSION_NUMBER", (int)ZSTD_versionNumber()) ||
      !set_int(env, exports, "ZSTD_MIN_LEVEL", ZSTD_minCLevel()) ||
      !set_int(env, exports, "ZSTD_MAX_LEVEL", ZSTD_maxCLevel()) ||
      !set_int(env, exports, "LZ4_VERSION_NUMBER", LZ4_versionNumber()) ||
      !set_int(env, exports, "MAX_DELTA_PAGE_BYTES", SCRATCH_BYTES) ||
      !set_int(env, exports, "DELTA_UNCHANGED", DELTA_UNCHANGED) ||
      !set_int(env, exports, "E_TRUNCATED", E_TRUNCATED) ||
      !set_int(env, exports, "E_MALFORMED", E_MALFORMED) ||
      !set_int(env, exports, "E_OVERRUN", E_OVERRUN) ||
      !set_int(env, exports, "E_SHORT", E_SHORT)) {
    return NULL;
  }
  return exports;
}
