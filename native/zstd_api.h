/*
 * The few libzstd entry points livemig calls, declared by hand.
 *
 * Why: Debian ships the runtime libzstd.so.1 (a dependency of apt and dpkg, so always present) but
 * not libzstd-dev, and a build must not need extra packages. Everything below except the two
 * parameter numbers marked "experimental" is zstd's stable public ABI (ZSTDLIB_API in zstd.h and
 * zstd_errors.h since 1.4.0); the experimental ones (ZSTD_c_format / ZSTD_d_format, magicless
 * frames) go through the stable setParameter functions, are exported by 1.5.4 (checked with nm -D),
 * and the addon checks at load time that the library accepts them. We link with -l:libzstd.so.1
 * (the soname) because the unversioned libzstd.so symlink ships only in the -dev package.
 */
#ifndef LIVEMIG_ZSTD_API_H
#define LIVEMIG_ZSTD_API_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ZSTD_CCtx_s ZSTD_CCtx;
typedef struct ZSTD_DCtx_s ZSTD_DCtx;

/* Library version as major*10000 + minor*100 + release, e.g. 10504. */
unsigned ZSTD_versionNumber(void);
int ZSTD_minCLevel(void);
int ZSTD_maxCLevel(void);

/* Worst-case frame size of srcSize bytes of input. */
size_t ZSTD_compressBound(size_t srcSize);

ZSTD_CCtx *ZSTD_createCCtx(void);
size_t ZSTD_freeCCtx(ZSTD_CCtx *cctx);
ZSTD_DCtx *ZSTD_createDCtx(void);
size_t ZSTD_freeDCtx(ZSTD_DCtx *dctx);

/* Sticky parameters; return an error code (test with ZSTD_isError) when refused. */
size_t ZSTD_CCtx_setParameter(ZSTD_CCtx *cctx, int param, int value);
size_t ZSTD_DCtx_setParameter(ZSTD_DCtx *dctx, int param, int value);

/* One frame of srcSize bytes into at most dstCapacity bytes, with the sticky parameters. */
size_t ZSTD_compress2(ZSTD_CCtx *cctx, void *dst, size_t dstCapacity, const void *src, size_t srcSize);
/* Decodes every frame in src into dst; never writes past dst + dstCapacity. */
size_t ZSTD_decompressDCtx(ZSTD_DCtx *dctx, void *dst, size_t dstCapacity, const void *src, size_t srcSize);

unsigned ZSTD_isError(size_t code);
const char *ZSTD_getErrorName(size_t code);
/* zstd_errors.h: the ZSTD_ErrorCode of a result (0 when it is not an error). */
int ZSTD_getErrorCode(size_t functionResult);

/* ZSTD_cParameter / ZSTD_dParameter values (stable unless marked). */
#define ZSTD_c_compressionLevel 100
#define ZSTD_c_contentSizeFlag 200
#define ZSTD_c_checksumFlag 201
#define ZSTD_c_dictIDFlag 202
#define ZSTD_c_format 10   /* experimental: ZSTD_c_experimentalParam2 */
#define ZSTD_d_format 1000 /* experimental: ZSTD_d_experimentalParam1 */
#define ZSTD_f_zstd1_magicless 1

/* ZSTD_ErrorCode values we classify (zstd_errors.h pins them: "values are stable"). */
#define ZSTD_error_corruption_detected 20
#define ZSTD_error_dstSize_tooSmall 70
#define ZSTD_error_srcSize_wrong 72

#ifdef __cplusplus
}
#endif

#endif
