/*
 * npz.c - NumPy .npz archives: zip files (zip64 included, as np.savez
 * writes them) of .npy members, stored or deflated, read as streams so
 * that npy.c parses a member exactly as it parses a file.
 *
 * Only the central directory is trusted for sizes; every size and
 * offset in it is checked against the file before it is used, the
 * directory itself is read only once data.max_bytes allows it, a member
 * inflates into the caller's buffer as it is read (never past its stated
 * size), and its CRC-32 is checked at the end, so a hostile archive
 * fails fast with bounded memory and a message naming the file and
 * member.  Deliberately not read: encrypted or multi-disk archives,
 * compression methods other than stored and deflate.
 */
#include "config.h"

#include "data-int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <zlib.h>

#include "nntop/xmem.h"

#define EOCD_SIG 0x06054b50u
#define EOCD64_SIG 0x06064b50u
#define EOCD64_LOC_SIG 0x07064b50u
#define CDIR_SIG 0x02014b50u
#define LOCAL_SIG 0x04034b50u
#define EOCD_LEN 22
#define EOCD_SEARCH (EOCD_LEN + 65535)  /* the record plus the longest comment */
#define CDIR_MAX ((uint64_t)16 << 20)   /* central directories above this are refused */
#define NAME_MAX_LEN 255
#define INFLATE_RATIO 1100              /* deflate cannot do better than about 1032:1 */
#define CHUNK 65536

struct npz_member {
    FILE *fp;
    char *path;             /* the archive */
    char *name;             /* "PATH:MEMBER" */
    int method;             /* 0 stored, 8 deflate */
    uint64_t csize, usize;  /* compressed and uncompressed bytes */
    uint32_t crc;           /* from the central directory */
    uint64_t in_left;       /* compressed bytes not read yet */
    uint64_t out;           /* bytes handed out */
    uint32_t crc_now;
    bool zinit, zend;
    z_stream z;
    uint8_t in[CHUNK];
};

static uint16_t
le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Read n bytes at offset off of fp into buf: 0, or -1 when the file is shorter. */
static int
read_at(FILE *fp, uint64_t off, void *buf, size_t n)
{
    if (fseeko(fp, (off_t)off, SEEK_SET) != 0)
        return -1;
    return fread(buf, 1, n, fp) == n ? 0 : -1;
}

/* Where the central directory is: from the (zip64) end record. */
static const char *
find_cdir(FILE *fp, uint64_t fsize, uint64_t *cd_off, uint64_t *cd_size, uint64_t *entries)
{
    if (fsize < EOCD_LEN)
        return "not a zip archive (shorter than its end record)";
    size_t span = fsize < EOCD_SEARCH ? (size_t)fsize : EOCD_SEARCH;
    uint8_t *tail = xmalloc(span);
    const char *bad = NULL;
    if (read_at(fp, fsize - span, tail, span) < 0) {
        bad = "cannot read the end of the archive";
        goto out;
    }
    long at = -1;
    for (long i = (long)span - EOCD_LEN; i >= 0; i--) {
        if (le32(tail + i) == EOCD_SIG
            && (uint64_t)i + EOCD_LEN + le16(tail + i + 20) == (uint64_t)span) {
            at = i;
            break;
        }
    }
    if (at < 0) {
        bad = "not a zip archive (no end-of-central-directory record)";
        goto out;
    }
    const uint8_t *e = tail + at;
    if (le16(e + 4) != 0 || le16(e + 6) != 0) {
        bad = "a multi-disk zip archive";
        goto out;
    }
    *entries = le16(e + 10);
    *cd_size = le32(e + 12);
    *cd_off = le32(e + 16);
    if (*entries == 0xffff || *cd_size == 0xffffffffu || *cd_off == 0xffffffffu) {
        /* zip64: the locator sits just before the end record. */
        uint64_t eocd_pos = fsize - span + (uint64_t)at;
        uint8_t loc[20], e64[56];
        if (eocd_pos < 20 || read_at(fp, eocd_pos - 20, loc, 20) < 0
            || le32(loc) != EOCD64_LOC_SIG) {
            bad = "a zip64 end record without its locator";
            goto out;
        }
        uint64_t off64 = le64(loc + 8);
        if (off64 > fsize - 56 || read_at(fp, off64, e64, 56) < 0 || le32(e64) != EOCD64_SIG) {
            bad = "a zip64 locator pointing outside the archive";
            goto out;
        }
        *entries = le64(e64 + 32);
        *cd_size = le64(e64 + 40);
        *cd_off = le64(e64 + 48);
    }
    if (*cd_off > fsize || *cd_size > fsize - *cd_off)
        bad = "the central directory lies outside the archive";
    else if (*cd_size > CDIR_MAX)
        bad = "the central directory is larger than 16 MiB";
    else if (*entries > *cd_size / 46 + 1)
        bad = "more entries than the central directory can hold";
out:
    free(tail);
    return bad;
}

struct entry {
    char name[NAME_MAX_LEN + 1];
    uint16_t flags, method;
    uint32_t crc;
    uint64_t csize, usize, local;
};

/* Entry k of the central directory at p (left bytes): *used its length. */
static const char *
parse_entry(const uint8_t *p, uint64_t left, struct entry *e, uint64_t *used)
{
    if (left < 46 || le32(p) != CDIR_SIG)
        return "a damaged central directory entry";
    uint16_t nlen = le16(p + 28), xlen = le16(p + 30), clen = le16(p + 32);
    if (46 + (uint64_t)nlen + xlen + clen > left)
        return "a central directory entry runs past the directory";
    memset(e, 0, sizeof *e);
    e->flags = le16(p + 8);
    e->method = le16(p + 10);
    e->crc = le32(p + 16);
    e->csize = le32(p + 20);
    e->usize = le32(p + 24);
    e->local = le32(p + 42);
    size_t n = nlen < NAME_MAX_LEN ? nlen : NAME_MAX_LEN;
    memcpy(e->name, p + 46, n);
    e->name[n] = '\0';
    if (memchr(p + 46, '\0', nlen) != NULL || nlen > NAME_MAX_LEN)
        e->name[0] = '\0';      /* never matches a wanted name */
    /* zip64 extra field: the values that overflowed, in this order. */
    const uint8_t *x = p + 46 + nlen, *xend = x + xlen;
    while (xend - x >= 4) {
        uint16_t tag = le16(x), len = le16(x + 2);
        if ((size_t)(xend - x - 4) < len)
            return "a damaged extra field in the central directory";
        if (tag == 0x0001) {
            const uint8_t *v = x + 4, *vend = v + len;
            uint64_t *fields[3] = {&e->usize, &e->csize, &e->local};
            uint64_t marks[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
            for (int k = 0; k < 3; k++) {
                if (*fields[k] != marks[k])
                    continue;
                if (vend - v < 8)
                    return "a zip64 extra field too short for its sizes";
                *fields[k] = le64(v);
                v += 8;
            }
        }
        x += 4 + len;
    }
    *used = 46 + (uint64_t)nlen + xlen + clen;
    return NULL;
}

/* The names a role takes, best first (with ".npy" appended). */
static const char *const role_names[NPZ_ROLE_COUNT][3] = {
    [NPZ_IMAGES] = {"x", "images", "arr_0"},
    [NPZ_LABELS] = {"y", "labels", "arr_1"},
};

/* "PATH: what" into *cause, and m closed. */
static int
member_fail(struct npz_member *m, char **cause, const char *what)
{
    data_set_cause(cause, "%s: %s", m->path, what);
    npz_close(m, NULL);
    return -1;
}

struct npz_member *
npz_open(const char *path, enum npz_role role, const char *key, struct data_budget *b,
         char **cause)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        data_set_cause(cause, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct npz_member *m = xcalloc(1, sizeof *m);
    m->fp = fp;
    m->path = xstrdup(path);
    uint8_t *cd = NULL;
    const char *bad = NULL;
    if (fseeko(fp, 0, SEEK_END) != 0) {
        member_fail(m, cause, "cannot seek: not a regular file");
        return NULL;
    }
    uint64_t fsize = (uint64_t)ftello(fp);
    uint64_t cd_off, cd_size, entries;
    if ((bad = find_cdir(fp, fsize, &cd_off, &cd_size, &entries)) != NULL) {
        member_fail(m, cause, bad);
        return NULL;
    }
    /* The directory is sized by the archive: taken from the budget for as
     * long as it is held. */
    if (data_budget_take(b, cd_size, path, "its central directory's entries", cause) < 0) {
        npz_close(m, NULL);
        return NULL;
    }
    cd = xmalloc(cd_size > 0 ? (size_t)cd_size : 1);
    if (read_at(fp, cd_off, cd, (size_t)cd_size) < 0) {
        free(cd);
        data_budget_give(b, cd_size);
        member_fail(m, cause, "cannot read the central directory");
        return NULL;
    }
    /* Pick the member: the key given, else the role's names in order, else
     * the only member. */
    struct entry pick = {0}, only = {0}, e;
    int best = 3, count = 0;
    char keyed[NAME_MAX_LEN + 8] = "";
    if (key != NULL && key[0] != '\0') {
        size_t kl = strlen(key);
        bool ext = kl > 4 && strcmp(key + kl - 4, ".npy") == 0;    /* "x.npy" as "x" */
        snprintf(keyed, sizeof keyed, "%.*s.npy", (int)(ext ? kl - 4 : kl), key);
    }
    char listing[160] = "";
    uint64_t pos = 0;
    for (uint64_t k = 0; k < entries; k++) {
        uint64_t used;
        if ((bad = parse_entry(cd + pos, cd_size - pos, &e, &used)) != NULL)
            break;
        pos += used;
        count++;
        only = e;
        size_t ll = strlen(listing);
        if (ll + strlen(e.name) + 8 < sizeof listing)
            snprintf(listing + ll, sizeof listing - ll, "%s%s", ll > 0 ? ", " : "", e.name);
        else if (ll + 5 < sizeof listing && strcmp(listing + ll - 3, "...") != 0)
            snprintf(listing + ll, sizeof listing - ll, ", ...");
        if (keyed[0] != '\0') {
            if (strcmp(e.name, keyed) == 0) {
                best = 0;
                pick = e;
            }
            continue;
        }
        for (int r = 0; r < best; r++) {
            char want[32];
            snprintf(want, sizeof want, "%s.npy", role_names[role][r]);
            if (strcmp(e.name, want) == 0) {
                best = r;
                pick = e;
            }
        }
    }
    free(cd);
    data_budget_give(b, cd_size);
    if (bad != NULL) {
        member_fail(m, cause, bad);
        return NULL;
    }
    if (best == 3 && keyed[0] != '\0') {
        char msg[NAME_MAX_LEN + 240];
        snprintf(msg, sizeof msg, "no member %s (data.%s_key; it holds %s)", keyed,
                 role == NPZ_IMAGES ? "inputs" : "labels", count > 0 ? listing : "nothing");
        member_fail(m, cause, msg);
        return NULL;
    }
    if (best == 3 && count == 1)
        pick = only;
    else if (best == 3) {
        char msg[400];
        snprintf(msg, sizeof msg, "no %s array: name it %s.npy, %s.npy or %s.npy (it holds %s)",
                 role == NPZ_IMAGES ? "inputs" : "labels", role_names[role][0],
                 role_names[role][1], role_names[role][2], count > 0 ? listing : "nothing");
        member_fail(m, cause, msg);
        return NULL;
    }
    m->name = xasprintf("%s:%s", path, pick.name);
    if (pick.flags & 1u) {
        data_set_cause(cause, "%s: the member is encrypted", m->name);
        npz_close(m, NULL);
        return NULL;
    }
    if (pick.method != 0 && pick.method != 8) {
        char what[64];
        snprintf(what, sizeof what, "compression method %u (nntop reads stored and deflate)",
                 pick.method);
        data_set_cause(cause, "%s: %s", m->name, what);
        npz_close(m, NULL);
        return NULL;
    }
    uint8_t lh[30];
    if (fsize < 30 || pick.local > fsize - 30 || read_at(fp, pick.local, lh, 30) < 0
        || le32(lh) != LOCAL_SIG) {
        data_set_cause(cause, "%s: its local header lies outside the archive or is damaged",
                       m->name);
        npz_close(m, NULL);
        return NULL;
    }
    uint64_t data_off = pick.local + 30 + le16(lh + 26) + le16(lh + 28);
    if (data_off > fsize || pick.csize > fsize - data_off) {
        data_set_cause(cause, "%s: its data runs past the end of the archive", m->name);
        npz_close(m, NULL);
        return NULL;
    }
    if ((pick.method == 0 && pick.usize != pick.csize)
        || (pick.method == 8 && pick.usize / INFLATE_RATIO > pick.csize + 1)) {
        data_set_cause(cause, "%s: a stated size of %llu bytes from %llu compressed is not "
                       "possible", m->name, (unsigned long long)pick.usize,
                       (unsigned long long)pick.csize);
        npz_close(m, NULL);
        return NULL;
    }
    if (fseeko(fp, (off_t)data_off, SEEK_SET) != 0) {
        data_set_cause(cause, "%s: cannot seek to its data", m->name);
        npz_close(m, NULL);
        return NULL;
    }
    m->method = pick.method;
    m->csize = pick.csize;
    m->usize = pick.usize;
    m->crc = pick.crc;
    m->in_left = pick.csize;
    m->crc_now = (uint32_t)crc32(0L, Z_NULL, 0);
    if (m->method == 8) {
        if (inflateInit2(&m->z, -MAX_WBITS) != Z_OK) {
            data_set_cause(cause, "%s: cannot start zlib", m->name);
            npz_close(m, NULL);
            return NULL;
        }
        m->zinit = true;
    }
    return m;
}

/* The stream's read(): stored bytes as they are, deflated ones inflated. */
static int
member_read(void *ctx, void *buf, size_t n, size_t *got, char **cause)
{
    struct npz_member *m = ctx;
    *got = 0;
    uint64_t room = m->usize - m->out;
    if (n > room)
        n = (size_t)room;
    if (n == 0)
        return 0;
    if (m->method == 0) {
        size_t k = fread(buf, 1, n, m->fp);
        m->in_left -= k;
        m->out += k;
        *got = k;
        m->crc_now = (uint32_t)crc32(m->crc_now, buf, (uInt)k);
        if (k < n) {
            data_set_cause(cause, "%s: the archive ends inside the member", m->name);
            return -1;
        }
        return 0;
    }
    m->z.next_out = buf;
    size_t done = 0;
    while (done < n && !m->zend) {
        if (m->z.avail_in == 0 && m->in_left > 0) {
            size_t ask = m->in_left < CHUNK ? (size_t)m->in_left : CHUNK;
            size_t k = fread(m->in, 1, ask, m->fp);
            if (k < ask) {
                data_set_cause(cause, "%s: the archive ends inside the member", m->name);
                return -1;
            }
            m->in_left -= k;
            m->z.next_in = m->in;
            m->z.avail_in = (uInt)k;
        }
        size_t ask = n - done > CHUNK ? CHUNK : n - done;
        m->z.avail_out = (uInt)ask;
        int zr = inflate(&m->z, Z_NO_FLUSH);
        size_t made = ask - m->z.avail_out;
        done += made;
        if (zr == Z_STREAM_END) {
            m->zend = true;
        } else if (zr != Z_OK && !(zr == Z_BUF_ERROR && made > 0)) {
            data_set_cause(cause, "%s: damaged deflate data (%s)", m->name,
                           m->z.msg != NULL ? m->z.msg : "zlib error");
            return -1;
        }
        if (made == 0 && m->z.avail_in == 0 && m->in_left == 0 && !m->zend) {
            data_set_cause(cause, "%s: the deflate data ends early", m->name);
            return -1;
        }
    }
    m->crc_now = (uint32_t)crc32(m->crc_now, buf, (uInt)done);
    m->out += done;
    *got = done;
    return 0;
}

struct data_stream
npz_stream(struct npz_member *m)
{
    return (struct data_stream){.read = member_read, .ctx = m, .size = m->usize};
}

const char *
npz_name(const struct npz_member *m)
{
    return m->name != NULL ? m->name : m->path;
}

int
npz_close(struct npz_member *m, char **cause)
{
    int rc = 0;
    if (m == NULL)
        return 0;
    if (cause != NULL) {
        if (m->out != m->usize) {
            data_set_cause(cause, "%s: %llu of its %llu bytes were read", npz_name(m),
                           (unsigned long long)m->out, (unsigned long long)m->usize);
            rc = -1;
        } else if (m->crc_now != m->crc) {
            data_set_cause(cause, "%s: CRC-32 mismatch: the member is damaged", npz_name(m));
            rc = -1;
        }
    }
    if (m->zinit)
        inflateEnd(&m->z);
    if (m->fp != NULL)
        fclose(m->fp);
    free(m->path);
    free(m->name);
    free(m);
    return rc;
}
