/*
 * fuzz-util.h - what the libFuzzer targets in tests/fuzz/ share: a
 * private scratch directory and writing an input into a file there, for
 * the readers that take a path.  Header-only (static inline) because each
 * target is one translation unit linked against libnntop.a; not part of
 * nntop.
 */
#ifndef NNTOP_FUZZ_UTIL_H
#define NNTOP_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A scratch directory of this process, made once (in /dev/shm when it exists). */
static inline const char *
fuzz_dir(void)
{
    static char dir[64];
    if (dir[0] == '\0') {
        struct stat st;
        const char *base = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/nntop-fuzz-XXXXXX", base);
        if (mkdtemp(dir) == NULL)
            abort();
    }
    return dir;
}

/* Write data[0..n) to <fuzz_dir>/<name> into path (PATH_MAX-sized); aborts on I/O errors. */
static inline void
fuzz_write(char *path, size_t len, const char *name, const uint8_t *data, size_t n)
{
    snprintf(path, len, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || (n > 0 && fwrite(data, 1, n, f) != n) || fclose(f) != 0)
        abort();
}

/* Split data at the first occurrence of the 4-byte separator "\n--\n" (or not at all). */
static inline size_t
fuzz_split(const uint8_t *data, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if (memcmp(data + i, "\n--\n", 4) == 0)
            return i;
    return n;
}

#endif
