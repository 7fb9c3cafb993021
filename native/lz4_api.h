/*
 * The few liblz4 entry points livemig calls, declared by hand.
 *
 * Why: Debian ships the runtime liblz4.so.1 but not liblz4-dev, and a build must not need extra
 * packages. These functions are part of LZ4's stable public ABI (declared LZ4LIB_API in lz4.h since
 * 1.7.x, unchanged through 1.9.4/1.10), so redeclaring them is as safe as including the header.
 * We link with -l:liblz4.so.1 (the soname) because the unversioned liblz4.so symlink ships only in
 * the -dev package.
 */
#ifndef LIVEMIG_LZ4_API_H
#define LIVEMIG_LZ4_API_H

#ifdef __cplusplus
extern "C" {
#endif

/* Library version as major*10000 + minor*100 + release, e.g. 10904. */
int LZ4_versionNumber(void);

/* Bytes of the state buffer LZ4_compress_fast_extState needs (16416 on 64-bit 1.9.x). */
int LZ4_sizeofState(void);

/* Worst-case compressed size of inputSize bytes, or 0 if inputSize is too large. */
int LZ4_compressBound(int inputSize);

/*
 * Compresses srcSize bytes into at most dstCapacity bytes using caller-owned `state`
 * (LZ4_sizeofState() bytes, pointer-aligned). Returns bytes written, or 0 if it does not fit.
 */
int LZ4_compress_fast_extState(void *state, const char *src, char *dst, int srcSize, int dstCapacity,
                               int acceleration);

/*
 * Decodes one raw block of compressedSize bytes into at most dstCapacity bytes. Returns bytes
 * produced, or a negative number for malformed input; never writes past dst + dstCapacity.
 */
int LZ4_decompress_safe(const char *src, char *dst, int compressedSize, int dstCapacity);

/* Largest input a single block call accepts. */
#define LZ4_MAX_INPUT_SIZE 0x7E000000

#ifdef __cplusplus
}
#endif

#endif
