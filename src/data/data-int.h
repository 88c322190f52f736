/*
 * data-int.h - private to src/data/: the file readers, the generators and
 * the small I/O layer they share.  Nothing outside src/data/ includes it;
 * the public contract is include/nntop/data.h.
 */
#ifndef NNTOP_DATA_INT_H
#define NNTOP_DATA_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#include "nntop/data.h"

/*
 * Labels above this are refused: classes = max label + 1 sizes the model's
 * output layer and the class counts, so a stray 1e9 must not allocate them.
 */
#define DATA_LABEL_MAX 65535

/* An open input file, gzip (by its magic) or plain. */
struct data_file {
    int fd;
    const char *path;       /* borrowed, for messages */
    bool gzip;              /* starts with the gzip magic: inflated */
    bool done;              /* gzip: the last member ended at the end of the file */
    bool zs_live;
    z_stream zs;
    unsigned char *in;      /* (DATA_GZ_BUFFER) bytes read, not yet used */
    size_t in_pos, in_len;  /* in[in_pos .. in_len) is unused */
    uint64_t file_off;      /* bytes read from the file */
};

/*
 * data.max_bytes at work: the memory one data_load may give to what the
 * files hold (text being parsed, payloads, the loaded stores).  Every
 * allocation sized by a file's content is taken from it first, so a
 * hostile file is refused with its name before it costs the memory.
 */
struct data_budget {
    uint64_t max;           /* data.max_bytes */
    uint64_t used;          /* taken so far */
};

/*
 * Take bytes for what (a phrase: "the images", "the parsed rows") of path
 * from b; -1 with "PATH: WHAT need N bytes, more than data.max_bytes (M)"
 * in *cause when they do not fit (nothing is taken then).
 */
int data_budget_take(struct data_budget *b, uint64_t bytes, const char *path, const char *what,
                     char **cause);
/* Give back bytes taken earlier (a buffer freed before the load ends). */
void data_budget_give(struct data_budget *b, uint64_t bytes);
/* What b still allows. */
uint64_t data_budget_left(const struct data_budget *b);

/* Set *cause (when cause is not NULL) to a heap message; the caller frees. */
void data_set_cause(char **cause, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Open path for reading; -1 with "PATH: strerror" in *cause. */
int data_file_open(struct data_file *f, const char *path, char **cause);
/*
 * Read up to n bytes into buf; *got is short only at the end of the file.
 * -1 on a read error, a corrupt or truncated gzip stream, or junk after it.
 */
int data_file_read(struct data_file *f, void *buf, size_t n, size_t *got, char **cause);
/* Close f (safe on a file that failed to open). */
void data_file_close(struct data_file *f);
/*
 * Read the whole (possibly gzipped) file into a heap buffer with a NUL
 * appended; the caller frees *buf.  *len excludes the NUL.  The decoded
 * text is taken from b (give it back with data_budget_give once freed);
 * a file that decodes to more than b leaves is refused as it is read.
 */
int data_file_slurp(const char *path, struct data_budget *b, char **buf, size_t *len,
                    char **cause);

/*
 * A byte stream a reader pulls from: an open file, or a member of a zip
 * archive (npz.c).  read() has data_file_read()'s contract.
 */
struct data_stream {
    int (*read)(void *ctx, void *buf, size_t n, size_t *got, char **cause);
    void *ctx;
    uint64_t size;          /* bytes it holds, or UINT64_MAX when unknown (gzip) */
};

/* The stream of an open file (borrowed: it must outlive the stream). */
struct data_stream data_file_stream(struct data_file *f);

/*
 * Read the payload of a stream: at most want + 1 bytes, growing the
 * buffer as data arrives (so a header that claims more than the file
 * holds costs no more memory than the file), into *out (heap); *have is
 * the count read, want + 1 when the stream holds more.
 */
int data_stream_read_payload(const struct data_stream *s, size_t want, uint8_t **out,
                             size_t *have, char **cause);
/* data_stream_read_payload() of an open file. */
int data_file_read_payload(struct data_file *f, size_t want, uint8_t **out, size_t *have,
                           char **cause);

/* Generate spiral, xor or blobs into ds (floats, taken from b); *classes is set. */
int data_synth_generate(struct dataset *ds, int *classes, const struct data_spec *spec,
                        uint64_t seed, struct data_budget *b, char **cause);
/* Read IDX train (and optional test) files into byte stores; *classes is set. */
int data_idx_load(struct dataset *train, struct dataset *test, int *classes,
                  const struct data_spec *spec, struct data_budget *b, char **cause);
/* Read CSV train (and optional test) files into float stores; *classes is set. */
int data_csv_load(struct dataset *train, struct dataset *test, int *classes,
                  const struct data_spec *spec, struct data_budget *b, char **cause);

/*
 * .npz archives (npz.c): zip files of .npy members, stored or deflated.
 * The member for a role is the first of "x", "images", "arr_0" (inputs)
 * or "y", "labels", "arr_1" (labels), with ".npy"; an archive of one
 * member serves either role.
 */
enum npz_role { NPZ_IMAGES, NPZ_LABELS, NPZ_ROLE_COUNT };
struct npz_member;
/*
 * Open path's member for role: "KEY.npy" when key is not NULL or "" (the
 * data.inputs_key / data.labels_key), else by the names above.  The
 * central directory is read only when b allows its size (and given back
 * once parsed).  NULL with "PATH: ..." in *cause (a bad archive, or no
 * such member: the message lists the members).  The caller closes it
 * with npz_close().
 */
struct npz_member *npz_open(const char *path, enum npz_role role, const char *key,
                            struct data_budget *b, char **cause);
/* The member's bytes as a stream (borrowed from m); its size is exact. */
struct data_stream npz_stream(struct npz_member *m);
/* "PATH:MEMBER", for messages (borrowed from m). */
const char *npz_name(const struct npz_member *m);
/*
 * Close m; with cause, first check that the whole member was read and its
 * CRC-32 matches (-1 with the reason if not).  cause NULL: just close.
 */
int npz_close(struct npz_member *m, char **cause);

/* Read NumPy train (and optional test) .npy files; *classes is set. */
int data_npy_load(struct dataset *train, struct dataset *test, int *classes,
                  const struct data_spec *spec, struct data_budget *b, char **cause);

/* Free a store's arrays and zero it. */
void data_store_fini(struct dataset *ds);

#endif
