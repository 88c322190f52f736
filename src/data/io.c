/*
 * io.c - the reading layer the IDX, CSV and NumPy readers share: open a
 * file (gzip, by its magic, or plain), read it with every failure turned
 * into a one-line message naming the file: a truncated or corrupt gzip
 * stream, and junk after it (which zlib's gzread would drop in silence).
 * Concatenated gzip members read as one file, as gzip -d reads them.  It
 * also keeps the data.max_bytes budget.  It does not parse anything.
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

/* The input buffer; 8 KiB would cost many small read() calls on 26 MB. */
#define DATA_GZ_BUFFER (128 * 1024)
/*
 * A payload buffer starts at the header's size up to this much and grows
 * only as data arrives, so a garbage header claiming terabytes costs
 * nothing.  Fashion-MNIST's 47 MB train images fit in the first block.
 */
#define DATA_FIRST_ALLOC ((size_t)64 << 20)

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

/* Read more of the file into f->in after what is there; bytes read, 0 at the end, -1. */
static int
fill_input(struct data_file *f, char **cause)
{
    /* Keep what inflate has not used at the front. */
    if (f->in_pos > 0) {
        memmove(f->in, f->in + f->in_pos, f->in_len - f->in_pos);
        f->in_len -= f->in_pos;
        f->in_pos = 0;
    }
    if (f->in_len == DATA_GZ_BUFFER)
        return 1;
    for (;;) {
        ssize_t r = read(f->fd, f->in + f->in_len, DATA_GZ_BUFFER - f->in_len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            data_set_cause(cause, "%s: read error: %s", f->path, strerror(errno));
            return -1;
        }
        f->in_len += (size_t)r;
        f->file_off += (uint64_t)r;
        return r > 0 ? 1 : 0;
    }
}

int
data_file_open(struct data_file *f, const char *path, char **cause)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = path;
    if (path[0] == '\0') {
        data_set_cause(cause, "(empty path): no file name given");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        /* A Fashion-MNIST file by its usual name: say where Debian puts it. */
        const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
        bool fashion = err == ENOENT && (strstr(path, "fashion") != NULL ||
                                         strncmp(base, "train-images-idx3-ubyte", 23) == 0 ||
                                         strncmp(base, "train-labels-idx1-ubyte", 23) == 0 ||
                                         strncmp(base, "t10k-images-idx3-ubyte", 22) == 0 ||
                                         strncmp(base, "t10k-labels-idx1-ubyte", 22) == 0);
        if (fashion)
            data_set_cause(cause, "%s: %s (Fashion-MNIST: apt-get install "
                           "dataset-fashion-mnist puts it in /usr/share/datasets/fashion-mnist)",
                           path, strerror(err));
        else
            data_set_cause(cause, "%s: %s", path, strerror(err));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        data_set_cause(cause, "%s: %s", path, strerror(EISDIR));
        close(fd);
        return -1;
    }
    f->fd = fd;
    f->in = xmalloc(DATA_GZ_BUFFER);
    /* The first two bytes decide: the gzip magic, or a plain file. */
    while (f->in_len < 2) {
        int r = fill_input(f, cause);
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
    }
    f->gzip = f->in_len >= 2 && f->in[0] == 0x1f && f->in[1] == 0x8b;
    size_t n = strlen(path);
    if (!f->gzip && f->in_len > 0 && n > 3 && strcmp(path + n - 3, ".gz") == 0) {
        data_set_cause(cause, "%s: corrupt gzip: the file does not start with the gzip magic "
                       "1f 8b", path);
        goto fail;
    }
    if (f->gzip) {
        if (inflateInit2(&f->zs, 16 + MAX_WBITS) != Z_OK)
            fatal("out of memory starting zlib");
        f->zs_live = true;
    }
    return 0;
fail:
    data_file_close(f);
    return -1;
}

/* The file offset of the next byte inflate has not used. */
static uint64_t
input_offset(const struct data_file *f)
{
    return f->file_off - (f->in_len - f->in_pos);
}

/*
 * One gzip member ended: another may follow (gzip -c a b > ab is one
 * file), anything else is junk that zlib's gzread would have dropped in
 * silence.  0 to go on, 1 at the end of the file, -1 on junk.
 */
static int
member_end(struct data_file *f, char **cause)
{
    while (f->in_len - f->in_pos < 2) {
        int r = fill_input(f, cause);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
    }
    size_t left = f->in_len - f->in_pos;
    if (left == 0)
        return 1;
    if (left >= 2 && f->in[f->in_pos] == 0x1f && f->in[f->in_pos + 1] == 0x8b) {
        inflateReset(&f->zs);
        return 0;
    }
    data_set_cause(cause, "%s: trailing junk after the gzip data, at byte %llu", f->path,
                   (unsigned long long)input_offset(f));
    return -1;
}

int
data_file_read(struct data_file *f, void *buf, size_t n, size_t *got, char **cause)
{
    unsigned char *p = buf;
    size_t done = 0;
    *got = 0;
    if (!f->gzip) {
        while (done < n) {
            if (f->in_pos == f->in_len) {
                /* Large reads go straight to the caller's buffer. */
                if (n - done >= DATA_GZ_BUFFER) {
                    ssize_t r = read(f->fd, p + done, n - done);
                    if (r < 0 && errno == EINTR)
                        continue;
                    if (r < 0) {
                        data_set_cause(cause, "%s: read error: %s", f->path, strerror(errno));
                        *got = done;
                        return -1;
                    }
                    if (r == 0)
                        break;
                    done += (size_t)r;
                    f->file_off += (uint64_t)r;
                    continue;
                }
                f->in_pos = f->in_len = 0;
                int r = fill_input(f, cause);
                if (r < 0) {
                    *got = done;
                    return -1;
                }
                if (r == 0)
                    break;
            }
            size_t k = f->in_len - f->in_pos;
            if (k > n - done)
                k = n - done;
            memcpy(p + done, f->in + f->in_pos, k);
            f->in_pos += k;
            done += k;
        }
        *got = done;
        return 0;
    }
    int rc = 0;
    while (rc == 0 && done < n && !f->done) {
        bool eof = false;
        if (f->in_pos == f->in_len) {
            int r = fill_input(f, cause);
            if (r < 0) {
                rc = -1;
                break;
            }
            eof = r == 0;
        }
        size_t want = n - done < UINT_MAX ? n - done : UINT_MAX;
        f->zs.next_in = f->in + f->in_pos;
        f->zs.avail_in = (uInt)(f->in_len - f->in_pos);
        f->zs.next_out = p + done;
        f->zs.avail_out = (uInt)want;
        int z = inflate(&f->zs, Z_NO_FLUSH);
        f->in_pos = f->in_len - f->zs.avail_in;
        size_t out = want - f->zs.avail_out;
        done += out;
        if (z == Z_STREAM_END) {
            int m = member_end(f, cause);
            if (m < 0)
                rc = -1;
            else if (m > 0)
                f->done = true;
        } else if (z == Z_MEM_ERROR) {
            fatal("out of memory in zlib reading %s", f->path);
        } else if (z == Z_OK || z == Z_BUF_ERROR) {
            /* At the end of the file, inflate may still have had output to
             * give; once it has none, the stream was cut short. */
            if (eof && out == 0) {
                data_set_cause(cause, "%s: truncated gzip (the file ends inside the compressed "
                               "data, at byte %llu)", f->path,
                               (unsigned long long)input_offset(f));
                rc = -1;
            }
        } else {
            data_set_cause(cause, "%s: corrupt gzip: %s (at byte %llu)", f->path,
                           f->zs.msg != NULL ? f->zs.msg : "bad data",
                           (unsigned long long)input_offset(f));
            rc = -1;
        }
    }
    *got = done;
    return rc;
}

void
data_file_close(struct data_file *f)
{
    if (f->zs_live)
        inflateEnd(&f->zs);
    f->zs_live = false;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->in);
    f->in = NULL;
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
