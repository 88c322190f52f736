/*
 * io.c - the reading layer the IDX and CSV readers share: open a file
 * (gzip or plain, through zlib), read it with every failure turned into a
 * one-line message naming the file.  It does not parse anything.
 */
#include "config.h"

#include "data-int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nntop/xmem.h"

/* zlib's read buffer; the default 8 KiB costs many small read() calls on 26 MB. */
#define DATA_GZ_BUFFER (128 * 1024)
/*
 * A payload buffer starts at the header's size up to this much and grows
 * only as data arrives, so a garbage header claiming terabytes costs
 * nothing.  Fashion-MNIST's 47 MB train images fit in the first block.
 */
#define DATA_FIRST_ALLOC ((size_t)64 << 20)
/* gzread() takes an unsigned and returns an int: read in slices below INT_MAX. */
#define DATA_GZ_SLICE ((size_t)1 << 30)

void
data_set_cause(char **cause, const char *fmt, ...)
{
    if (cause == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        fatal("out of memory formatting a message");
    va_end(ap);
    *cause = msg;
}

int
data_file_open(struct data_file *f, const char *path, char **cause)
{
    f->gz = NULL;
    f->path = path;
    if (path[0] == '\0') {
        data_set_cause(cause, "(empty path): no file name given");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        data_set_cause(cause, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        data_set_cause(cause, "%s: %s", path, strerror(EISDIR));
        close(fd);
        return -1;
    }
    f->gz = gzdopen(fd, "rb");
    if (f->gz == NULL) {
        data_set_cause(cause, "%s: cannot read: %s", path,
                       errno != 0 ? strerror(errno) : "zlib could not open the stream");
        close(fd);
        return -1;
    }
    gzbuffer(f->gz, DATA_GZ_BUFFER);
    return 0;
}

/* zlib prefixes its messages with the name it was opened under ("<fd:3>"). */
static const char *
gz_message(gzFile gz, int *errnum)
{
    const char *msg = gzerror(gz, errnum);
    if (msg != NULL && strncmp(msg, "<fd:", 4) == 0) {
        const char *colon = strstr(msg, ": ");
        if (colon != NULL)
            msg = colon + 2;
    }
    return msg != NULL ? msg : "unknown error";
}

int
data_file_read(struct data_file *f, void *buf, size_t n, size_t *got, char **cause)
{
    unsigned char *p = buf;
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < DATA_GZ_SLICE ? n - done : DATA_GZ_SLICE;
        int r = gzread(f->gz, p + done, (unsigned)want);
        if (r < 0)
            break;
        done += (size_t)r;
        if ((size_t)r < want)
            break;
    }
    *got = done;
    int errnum = Z_OK;
    const char *msg = gz_message(f->gz, &errnum);
    switch (errnum) {
    case Z_OK:
        return 0;
    case Z_BUF_ERROR:
        data_set_cause(cause, "%s: truncated gzip (%s)", f->path, msg);
        return -1;
    case Z_DATA_ERROR:
        data_set_cause(cause, "%s: corrupt gzip: %s", f->path, msg);
        return -1;
    default:
        data_set_cause(cause, "%s: read error: %s", f->path, msg);
        return -1;
    }
}

void
data_file_close(struct data_file *f)
{
    if (f->gz != NULL)
        gzclose_r(f->gz);
    f->gz = NULL;
}

int
data_budget_take(struct data_budget *b, uint64_t bytes, const char *path, const char *what,
                 char **cause)
{
    if (bytes > data_budget_left(b)) {
        if (b->used == 0)
            data_set_cause(cause, "%s: %s need %llu bytes, more than data.max_bytes (%llu)",
                           path, what, (unsigned long long)bytes, (unsigned long long)b->max);
        else
            data_set_cause(cause, "%s: %s need %llu bytes, more than the %llu that "
                           "data.max_bytes (%llu) leaves", path, what,
                           (unsigned long long)bytes, (unsigned long long)data_budget_left(b),
                           (unsigned long long)b->max);
        return -1;
    }
    b->used += bytes;
    return 0;
}

void
data_budget_give(struct data_budget *b, uint64_t bytes)
{
    b->used = bytes < b->used ? b->used - bytes : 0;
}

uint64_t
data_budget_left(const struct data_budget *b)
{
    return b->used < b->max ? b->max - b->used : 0;
}

int
data_file_slurp(const char *path, struct data_budget *b, char **buf, size_t *len, char **cause)
{
    struct data_file f;
    *buf = NULL;
    *len = 0;
    if (data_file_open(&f, path, cause) < 0)
        return -1;
    /* One byte past what the budget leaves is enough to refuse the file. */
    uint64_t left = data_budget_left(b);
    size_t limit = left < SIZE_MAX - 2 ? (size_t)left : SIZE_MAX - 2;
    size_t cap = 64 * 1024, used = 0;
    if (cap > limit + 2)
        cap = limit + 2;
    char *p = xmalloc(cap);
    int rc = -1;
    for (;;) {
        if (cap - used < 2) {
            if (used > limit) {
                data_set_cause(cause, "%s: more than %llu bytes once read (data.max_bytes is "
                               "%llu)", path, (unsigned long long)limit,
                               (unsigned long long)b->max);
                goto out;
            }
            cap = cap > (limit + 2) / 2 ? limit + 2 : cap * 2;
            p = xrealloc(p, cap);
        }
        size_t want = cap - used - 1, got;
        if (data_file_read(&f, p + used, want, &got, cause) < 0)
            goto out;
        used += got;
        if (got < want)
            break;
    }
    if (used > limit) {
        data_set_cause(cause, "%s: more than %llu bytes once read (data.max_bytes is %llu)",
                       path, (unsigned long long)limit, (unsigned long long)b->max);
        goto out;
    }
    p[used] = '\0';
    b->used += used;
    *buf = p;
    *len = used;
    p = NULL;
    rc = 0;
out:
    free(p);
    data_file_close(&f);
    return rc;
}

static int
file_stream_read(void *ctx, void *buf, size_t n, size_t *got, char **cause)
{
    return data_file_read(ctx, buf, n, got, cause);
}

struct data_stream
data_file_stream(struct data_file *f)
{
    return (struct data_stream){.read = file_stream_read, .ctx = f, .size = UINT64_MAX};
}

int
data_stream_read_payload(const struct data_stream *s, size_t want, uint8_t **out, size_t *have,
                         char **cause)
{
    size_t cap = want + 1;
    size_t alloc = cap < DATA_FIRST_ALLOC ? cap : DATA_FIRST_ALLOC;
    uint8_t *buf = xmalloc(alloc);
    size_t used = 0;
    for (;;) {
        if (used == alloc) {
            if (alloc == cap)
                break;
            alloc = alloc > cap / 2 ? cap : alloc * 2;
            buf = xrealloc(buf, alloc);
        }
        size_t ask = alloc - used, got;
        if (s->read(s->ctx, buf + used, ask, &got, cause) < 0) {
            free(buf);
            return -1;
        }
        used += got;
        if (got < ask)
            break;
    }
    *out = buf;
    *have = used;
    return 0;
}

int
data_file_read_payload(struct data_file *f, size_t want, uint8_t **out, size_t *have,
                       char **cause)
{
    struct data_stream s = data_file_stream(f);
    return data_stream_read_payload(&s, want, out, have, cause);
}
