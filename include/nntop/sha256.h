/*
 * sha256.h - SHA-256 (FIPS 180-4), for the content hashes a run records of
 * the data files it read.
 *
 * A plain streaming digest: init, update any number of times, final.  It
 * is not a MAC, not constant-time, and not meant for anything secret.
 */
#ifndef NNTOP_SHA256_H
#define NNTOP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_BYTES 32
#define SHA256_HEX_LEN 64

struct sha256 {
    uint32_t h[8];
    uint64_t bytes;             /* message length so far */
    uint8_t block[64];
    size_t fill;                /* bytes waiting in block */
};

/* Start a digest. */
void sha256_init(struct sha256 *s);
/* Add data[0..n) (n may be 0). */
void sha256_update(struct sha256 *s, const void *data, size_t n);
/* Finish into out; s must be initialised again before reuse. */
void sha256_final(struct sha256 *s, uint8_t out[SHA256_BYTES]);
/* The digest as 64 lowercase hex digits and a NUL into hex (65 bytes). */
void sha256_hex(char hex[SHA256_HEX_LEN + 1], const uint8_t digest[SHA256_BYTES]);
/*
 * Digest the whole file at path into hex (65 bytes) and its size into
 * *bytes.  Returns 0, or -1 with errno set (the file is not read further).
 */
int sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], uint64_t *bytes);

#endif
