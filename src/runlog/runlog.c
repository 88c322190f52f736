/*
 * runlog.c - the run directory and its append-only files: creating a run
 * (config.yaml, env.txt, CSV headers), appending metrics, layer and event
 * rows, flushing at least once a second, and closing durably.
 *
 * Rows are whole lines kept in a buffer of each file's own and written
 * with write(2), never torn: a write that fails part-way is cut back to
 * the last complete line, and everything not yet on disk stays in memory
 * until runlog_retry() gets it there (the trainer pauses meanwhile, so the
 * held rows stay few).  This file deliberately
 * does not read runs back (runlog-read.c) or write checkpoints
 * (safetensors.c), and never allocates while holding a runlog's lock, so
 * fatal() can always flush.
 */
#include "config.h"

#include "nntop/runlog.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "nntop/telemetry.h"
#include "nntop/mono.h"
#include "nntop/numfmt.h"
#include "nntop/xmem.h"
#include "runlog-int.h"

/* Same-second runs get -2, -3, ...; past this something else is wrong. */
#define RUN_DIR_TRIES 1000
#define RUN_NAME_MAX 64
#define CONFIG_READ_MAX (16L << 20)

enum rl_file_id {
    RL_METRICS,
    RL_LAYERS,
    RL_EVENTS,
    RL_TFEVENTS,            /* only once runlog_tfevents_start made it (fd -1 before) */
    RL_FILE_COUNT
};
/* The files every run has, opened with the run. */
#define RL_TEXT_COUNT RL_TFEVENTS

static const char *const rl_file_names[RL_FILE_COUNT] = {
    "metrics.csv", "layers.csv", "events.jsonl", "events.out.tfevents",
};

/* The header line of a CSV file, without its newline, into buf; 0 for a file with none. */
static size_t
header_line(enum rl_file_id id, char *buf, size_t len)
{
    const char *const *cols = id == RL_METRICS ? runlog_metrics_columns
                              : id == RL_LAYERS ? runlog_layers_columns : NULL;
    size_t n = id == RL_METRICS ? RUNLOG_METRICS_NCOLS : RUNLOG_LAYERS_NCOLS, at = 0;
    if (cols == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        assert(cols[i] != NULL);
        at += (size_t)snprintf(buf + at, len - at, "%s%s", i > 0 ? "," : "", cols[i]);
    }
    assert(at < len);
    return at;
}

/* Flush a CSV file once this much waits, whatever the clock says. */
#define RL_FLUSH_BYTES ((size_t)64 << 10)

struct rl_file {
    int fd;                 /* -1 when not open */
    char *buf;              /* whole lines not yet on disk (plain malloc: see append_bytes) */
    size_t len, cap;
    long rows;              /* rows in buf */
    off_t size;             /* bytes on disk, every one in a complete line */
    int err;                /* errno of the write that failed, 0 when all is well */
    long lost;              /* rows that could not even be held (out of memory) */
};

struct runlog {
    pthread_mutex_t lock;
    char *dir;
    char *config;           /* config text for checkpoint metadata, or NULL */
    char *normalize;        /* normalisation JSON for checkpoint metadata, or NULL */
    struct rl_file files[RL_FILE_COUNT];
    struct timespec start_wall;     /* wall clock at open (event "time") */
    double start_mono;              /* mono_seconds() at open (wall_s) */
    double last_flush;              /* coarse monotonic seconds */
    char *tfe_name;                 /* the TensorBoard file's name, or NULL */
    atomic_bool tfe_on;             /* set once the file exists: rows are encoded for it */
    double tfe_wall_s;              /* wall_s of the last train row: layer rows' time */
    atomic_bool has_error;          /* a write failed and data waits in memory */
    char error[512];                /* the first error since the log was last whole */
    struct runlog *next;            /* registry of open runlogs */
};

static time_t fake_time;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct runlog *registry;
static pthread_once_t hook_once = PTHREAD_ONCE_INIT;

void
runlog_set_fake_time(time_t t)
{
    fake_time = t;
}

static void
wall_now(struct timespec *ts)
{
    if (fake_time != 0) {
        ts->tv_sec = fake_time;
        ts->tv_nsec = 0;
    } else {
        clock_gettime(CLOCK_REALTIME, ts);
    }
}

/* "2025-01-02T03:04:05.678+01:00" in local time. */
static void
iso8601(char *buf, size_t len, const struct timespec *ts, bool millis)
{
    struct tm tm;
    time_t t = ts->tv_sec;
    localtime_r(&t, &tm);
    char date[32], frac[16] = "";
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    if (millis)
        snprintf(frac, sizeof frac, ".%03d", (int)(ts->tv_nsec / 1000000 % 1000));
    long off = tm.tm_gmtoff;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    /* UTC offsets are under 24 hours: two digits each. */
    int oh = (int)(off / 3600 % 24), om = (int)(off / 60 % 60);
    snprintf(buf, len, "%s%s%c%02d:%02d", date, frac, sign, oh, om);
}

static char *
path_join(const char *dir, const char *name)
{
    return xasprintf("%s/%s", dir, name);
}

/* ---- atomic writes (shared with safetensors.c) ------------------------ */

static int
fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    /* Some file systems cannot sync a directory; that is not a lost write. */
    if (rc < 0 && (saved == EINVAL || saved == EROFS))
        rc = 0;
    errno = saved;
    return rc;
}

int
runlog_fsync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL ? xstrdup(".")
                : slash == path ? xstrdup("/")
                : xasprintf("%.*s", (int)(slash - path), path);
    int rc = fsync_dir(dir);
    int saved = errno;
    free(dir);
    errno = saved;
    return rc;
}

int
runlog_atomic_open(struct runlog_atomic_file *af, const char *path, char **cause)
{
    af->path = xstrdup(path);
    af->tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    af->f = NULL;
    int fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) {
        /* Left by a crashed process that had our pid (pids restart in
         * containers): only this process can own the name now. */
        unlink(af->tmp);
        fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    }
    if (fd >= 0)
        af->f = fdopen(fd, "w");
    if (af->f == NULL) {
        *cause = xasprintf("%s: cannot create: %s", af->tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(af->tmp);
        }
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        return -1;
    }
    return 0;
}

void
runlog_atomic_abort(struct runlog_atomic_file *af)
{
    if (af->f != NULL)
        fclose(af->f);
    if (af->tmp != NULL)
        unlink(af->tmp);
    free(af->path);
    free(af->tmp);
    af->f = NULL;
    af->path = af->tmp = NULL;
}

int
runlog_atomic_commit(struct runlog_atomic_file *af, char **cause)
{
    const char *step = "write";
    int err = 0;
    if (ferror(af->f)) {
        err = errno != 0 ? errno : EIO;
    } else if (fflush(af->f) != 0) {
        err = errno;
    } else if (fsync(fileno(af->f)) != 0) {
        step = "fsync";
        err = errno;
    }
    int rc = fclose(af->f);
    af->f = NULL;
    if (err == 0 && rc != 0) {
        step = "close";
        err = errno;
    }
    if (err == 0 && rename(af->tmp, af->path) != 0) {
        step = "rename";
        err = errno;
    }
    if (err != 0) {
        *cause = xasprintf("%s: %s failed: %s", af->path, step, strerror(err));
        runlog_atomic_abort(af);
        return -1;
    }
    if (runlog_fsync_parent_dir(af->path) != 0) {
        *cause = xasprintf("%s: fsync of its directory failed: %s", af->path, strerror(errno));
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        return -1;
    }
    free(af->path);
    free(af->tmp);
    af->path = af->tmp = NULL;
    return 0;
}

static int
write_file_atomic(const char *path, const char *text, char **cause)
{
    struct runlog_atomic_file af;
    if (runlog_atomic_open(&af, path, cause) < 0)
        return -1;
    fputs(text, af.f);
    return runlog_atomic_commit(&af, cause);
}

/* ---- errors and flushing ------------------------------------------------ */

static int fail_writes_err;     /* tests: fail every write with this errno */

void
runlog_set_write_failure(int err)
{
    fail_writes_err = err;
}

/* Keep the first error message until the log is whole again. */
static void
set_error(struct runlog *rl, enum rl_file_id id, int err)
{
    if (atomic_load_explicit(&rl->has_error, memory_order_relaxed))
        return;
    const char *name = id == RL_TFEVENTS && rl->tfe_name != NULL ? rl->tfe_name
                                                                  : rl_file_names[id];
    snprintf(rl->error, sizeof rl->error, "%s/%s: %s", rl->dir, name,
             strerror(err != 0 ? err : EIO));
    atomic_store_explicit(&rl->has_error, true, memory_order_release);
}

/*
 * Append whole lines to a file's buffer.  This runs under the runlog's
 * lock, where xmalloc's fatal() would deadlock on runlog_flush_all(): a
 * failed allocation loses this row (counted) instead.
 */
static void
append_bytes(struct runlog *rl, enum rl_file_id id, const char *line, size_t n, long rows)
{
    struct rl_file *f = &rl->files[id];
    if (f->len + n + 1 > f->cap) {
        size_t cap = f->cap < 4096 ? 4096 : f->cap;
        while (cap < f->len + n + 1)
            cap *= 2;
        char *nb = realloc(f->buf, cap);
        if (nb == NULL) {
            f->lost += rows;
            set_error(rl, id, ENOMEM);
            return;
        }
        f->buf = nb;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, line, n);
    f->len += n;
    f->rows += rows;
}

/*
 * Write the buffer out.  On failure the file is cut back to its last
 * complete line (a short write may have left part of one) and the whole
 * buffer is kept.  Returns 0 or -1 (the error recorded).
 */
static int
write_out(struct runlog *rl, enum rl_file_id id)
{
    struct rl_file *f = &rl->files[id];
    size_t done = 0;
    int err = 0;
    while (done < f->len) {
        ssize_t w;
        if (fail_writes_err != 0) {
            errno = fail_writes_err;
            w = -1;
        } else {
            w = write(f->fd, f->buf + done, f->len - done);
        }
        if (w < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            break;
        }
        if (w == 0) {
            err = EIO;
            break;
        }
        done += (size_t)w;
    }
    if (err != 0) {
        /* Cut what got through of a line; a file that cannot be cut back
         * (a pipe, a device) simply keeps it. */
        if (done > 0) {
            struct stat st;
            if (fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode))
                (void)ftruncate(f->fd, f->size);
        }
        f->err = err;
        set_error(rl, id, err);
        return -1;
    }
    f->size += (off_t)f->len;
    f->len = 0;
    f->rows = 0;
    f->err = 0;
    return 0;
}

/* Write one row (or, with rows 0, a header) of whole lines. */
static void
file_write(struct runlog *rl, enum rl_file_id id, const char *line, size_t n, long rows)
{
    append_bytes(rl, id, line, n, rows);
}

/* Write out and optionally fsync.  A stalled log writes only from runlog_retry. */
static void
file_flush(struct runlog *rl, enum rl_file_id id, bool sync)
{
    struct rl_file *f = &rl->files[id];
    if (f->fd < 0 || atomic_load_explicit(&rl->has_error, memory_order_relaxed))
        return;
    if (f->len > 0 && write_out(rl, id) != 0)
        return;
    /* Devices and pipes cannot be synced; only a failed sync of a file counts. */
    if (sync && fsync(f->fd) != 0 && errno != EINVAL && errno != EROFS) {
        f->err = errno;
        set_error(rl, id, errno);
    }
}

static void
flush_locked(struct runlog *rl, bool sync)
{
    for (int i = 0; i < RL_FILE_COUNT; i++)
        file_flush(rl, (enum rl_file_id)i, sync);
    rl->last_flush = mono_coarse_seconds();
}

/* Called with the lock held after each CSV row. */
static void
maybe_flush(struct runlog *rl)
{
    double now = mono_coarse_seconds();
    if (now - rl->last_flush >= 1.0 || rl->files[RL_METRICS].len >= RL_FLUSH_BYTES
        || rl->files[RL_LAYERS].len >= RL_FLUSH_BYTES
        || rl->files[RL_TFEVENTS].len >= RL_FLUSH_BYTES) {
        file_flush(rl, RL_METRICS, false);
        file_flush(rl, RL_LAYERS, false);
        file_flush(rl, RL_TFEVENTS, false);
        rl->last_flush = now;
    }
}

void
runlog_flush(struct runlog *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_lock(&rl->lock);
    flush_locked(rl, true);
    pthread_mutex_unlock(&rl->lock);
}

int
runlog_retry(struct runlog *rl)
{
    if (rl == NULL)
        return 0;
    pthread_mutex_lock(&rl->lock);
    int rc = 0;
    for (int i = 0; i < RL_FILE_COUNT; i++) {
        struct rl_file *f = &rl->files[i];
        if (f->fd >= 0 && f->len > 0 && write_out(rl, (enum rl_file_id)i) != 0) {
            rc = -1;
            break;
        }
    }
    if (rc == 0) {
        /* Everything held is on disk: the log is whole again. */
        atomic_store_explicit(&rl->has_error, false, memory_order_release);
        for (int i = 0; i < RL_FILE_COUNT; i++)
            rl->files[i].err = 0;
        flush_locked(rl, true);
        rc = atomic_load_explicit(&rl->has_error, memory_order_relaxed) ? -1 : 0;
    }
    pthread_mutex_unlock(&rl->lock);
    return rc;
}

long
runlog_held_rows(struct runlog *rl)
{
    if (rl == NULL)
        return 0;
    pthread_mutex_lock(&rl->lock);
    long n = 0;
    for (int i = 0; i < RL_FILE_COUNT; i++)
        n += rl->files[i].rows;
    pthread_mutex_unlock(&rl->lock);
    return n;
}

void
runlog_flush_all(void)
{
    pthread_mutex_lock(&registry_lock);
    for (struct runlog *rl = registry; rl != NULL; rl = rl->next)
        runlog_flush(rl);
    pthread_mutex_unlock(&registry_lock);
}

static void
register_fatal_hook(void)
{
    fatal_push_hook(runlog_flush_all);
}

static void
registry_add(struct runlog *rl)
{
    pthread_once(&hook_once, register_fatal_hook);
    pthread_mutex_lock(&registry_lock);
    rl->next = registry;
    registry = rl;
    pthread_mutex_unlock(&registry_lock);
}

static void
registry_remove(struct runlog *rl)
{
    pthread_mutex_lock(&registry_lock);
    for (struct runlog **p = &registry; *p != NULL; p = &(*p)->next)
        if (*p == rl) {
            *p = rl->next;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
}

/* ---- opening ------------------------------------------------------------ */

static struct runlog *
runlog_alloc(const char *dir)
{
    struct runlog *rl = xcalloc(1, sizeof *rl);
    pthread_mutex_init(&rl->lock, NULL);
    for (int i = 0; i < RL_FILE_COUNT; i++)
        rl->files[i].fd = -1;
    rl->dir = xstrdup(dir);
    wall_now(&rl->start_wall);
    rl->start_mono = mono_seconds();
    rl->last_flush = mono_coarse_seconds();
    return rl;
}

static void
runlog_release(struct runlog *rl)
{
    for (int i = 0; i < RL_FILE_COUNT; i++) {
        if (rl->files[i].fd >= 0)
            close(rl->files[i].fd);
        free(rl->files[i].buf);
    }
    pthread_mutex_destroy(&rl->lock);
    free(rl->dir);
    free(rl->config);
    free(rl->normalize);
    free(rl->tfe_name);
    free(rl);
}

/* mkdir -p: every missing component of path. */
static int
mkdir_p(const char *path, char **cause)
{
    char *p = xstrdup(path);
    int rc = 0;
    for (char *s = p + 1; rc == 0; s++) {
        bool end = *s == '\0';
        if (*s != '/' && !end)
            continue;
        *s = '\0';
        struct stat st;
        if (mkdir(p, 0777) != 0 && (errno != EEXIST || stat(p, &st) != 0 || !S_ISDIR(st.st_mode))) {
            if (errno == EEXIST)
                errno = ENOTDIR;
            *cause = xasprintf("cannot create directory '%s': %s", p, strerror(errno));
            rc = -1;
        }
        if (end)
            break;
        *s = '/';
    }
    free(p);
    return rc;
}

/* The name part of a run directory: [A-Za-z0-9._-], at most RUN_NAME_MAX. */
static void
sanitize_name(char *out, const char *name)
{
    size_t n = 0;
    for (const char *s = name != NULL ? name : ""; *s != '\0' && n < RUN_NAME_MAX; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == '.' || c == '_' || c == '-';
        out[n++] = ok ? c : '_';
    }
    out[n] = '\0';
    /* Nothing but dots says nothing about the run. */
    if (n == 0 || strspn(out, ".") == n)
        strcpy(out, "run");
}

/* A value on one line of env.txt. */
static void
env_line(struct sbuf *b, const char *key, const char *value)
{
    sbuf_printf(b, "%s: ", key);
    for (const char *s = value; *s != '\0'; s++)
        sbuf_putc(b, *s == '\n' || *s == '\r' ? ' ' : *s);
    sbuf_putc(b, '\n');
}

/* env.txt's text; *diff (heap) gets the code diff for code.diff, or NULL. */
static char *
env_text(const struct runlog *rl, const struct runlog_env *env, char **diff)
{
    struct sbuf b;
    sbuf_init(&b);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%d", RUNLOG_FORMAT_VERSION);
    env_line(&b, "run_format", tmp);
    env_line(&b, "nntop", PACKAGE_VERSION);
    /* The trainer runs the doctor and journals its findings: viewers show those. */
    env_line(&b, "doctor", "logged");
#if defined(__GNUC__) && !defined(__clang__)
    env_line(&b, "compiler", "gcc " __VERSION__);
#else
    env_line(&b, "compiler", __VERSION__);
#endif
    const struct runlog_env none = { 0 };
    if (env == NULL)
        env = &none;
    env_line(&b, "blas", env->blas_config != NULL ? env->blas_config : "unknown");
    env_line(&b, "blas_core", env->blas_core != NULL ? env->blas_core : "unknown");
    if (env->blas_note != NULL && env->blas_note[0] != '\0')
        env_line(&b, "blas_note", env->blas_note);
    if (env->blas_threads > 0)
        snprintf(tmp, sizeof tmp, "%d", env->blas_threads);
    else
        snprintf(tmp, sizeof tmp, "unknown");
    env_line(&b, "blas_threads", tmp);
    if (env->conv_kernel != NULL)
        env_line(&b, "conv_kernel", env->conv_kernel);
    snprintf(tmp, sizeof tmp, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    env_line(&b, "cpus_online", tmp);
    if (gethostname(tmp, sizeof tmp) != 0)
        snprintf(tmp, sizeof tmp, "unknown");
    tmp[sizeof tmp - 1] = '\0';
    env_line(&b, "host", tmp);
    struct utsname u;
    if (uname(&u) == 0) {
        char *os = xasprintf("%s %s %s", u.sysname, u.release, u.machine);
        env_line(&b, "os", os);
        free(os);
    }
    snprintf(tmp, sizeof tmp, "%ld", (long)getpid());
    env_line(&b, "pid", tmp);
    char *cwd = getcwd(NULL, 0);
    env_line(&b, "cwd", cwd != NULL ? cwd : "unknown");
    free(cwd);
    iso8601(tmp, sizeof tmp, &rl->start_wall, false);
    env_line(&b, "start", tmp);
    env_line(&b, "command", env->cmdline != NULL ? env->cmdline : "unknown");
    provenance_lines(&b, env, diff);
    if (env->extra != NULL) {
        sbuf_puts(&b, env->extra);
        if (b.len > 0 && b.s[b.len - 1] != '\n')
            sbuf_putc(&b, '\n');
    }
    return sbuf_take(&b);
}

static int
open_append(struct runlog *rl, enum rl_file_id id, int extra_flags, char **cause)
{
    char *path = path_join(rl->dir, rl_file_names[id]);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | extra_flags, 0666);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        *cause = xasprintf("%s: cannot open: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(path);
        return -1;
    }
    rl->files[id].fd = fd;
    rl->files[id].size = S_ISREG(st.st_mode) ? st.st_size : 0;
    free(path);
    return 0;
}

static void
write_header(struct runlog *rl, enum rl_file_id id)
{
    char line[512];
    size_t n = header_line(id, line, sizeof line - 1);
    if (n == 0)
        return;
    line[n++] = '\n';
    file_write(rl, id, line, n, 0);
}

/* Best effort: undo a run directory whose creation failed half-way. */
static void
remove_run_dir(const char *dir)
{
    static const char *const names[] = {
        "config.yaml", "env.txt", "code.diff", "metrics.csv", "layers.csv", "events.jsonl",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *p = path_join(dir, names[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
}

/* config.yaml, env.txt and the three append-only files of a new run. */
static int
runlog_write_start(struct runlog *rl, const char *config_yaml, const struct runlog_env *env,
                   char **cause)
{
    int rc = 0;
    char *path;
    if (config_yaml != NULL) {
        rl->config = xstrdup(config_yaml);
        path = path_join(rl->dir, "config.yaml");
        rc = write_file_atomic(path, config_yaml, cause);
        free(path);
        if (rc < 0)
            return -1;
    }
    char *diff = NULL;
    char *text = env_text(rl, env, &diff);
    path = path_join(rl->dir, "env.txt");
    rc = write_file_atomic(path, text, cause);
    free(text);
    free(path);
    if (rc == 0 && diff != NULL) {
        path = path_join(rl->dir, "code.diff");
        rc = write_file_atomic(path, diff, cause);
        free(path);
    }
    free(diff);
    if (rc < 0)
        return -1;
    for (int i = 0; i < RL_TEXT_COUNT; i++) {
        if (open_append(rl, (enum rl_file_id)i, O_EXCL, cause) < 0)
            return -1;
        write_header(rl, (enum rl_file_id)i);
    }
    return 0;
}

int
runlog_open(struct runlog **out, const char *dir_root, const char *name,
            const char *config_yaml, const struct runlog_env *env, char **cause)
{
    *out = NULL;
    if (dir_root == NULL || dir_root[0] == '\0') {
        *cause = xstrdup("empty run directory root");
        return -1;
    }
    if (mkdir_p(dir_root, cause) < 0)
        return -1;

    struct timespec now;
    wall_now(&now);
    struct tm tm;
    localtime_r(&now.tv_sec, &tm);
    char stamp[32], clean[RUN_NAME_MAX + 1];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    sanitize_name(clean, name);

    char *dir = NULL;
    for (int k = 1; k <= RUN_DIR_TRIES; k++) {
        dir = k == 1 ? xasprintf("%s/%s-%s", dir_root, stamp, clean)
                     : xasprintf("%s/%s-%s-%d", dir_root, stamp, clean, k);
        /* mkdir either creates the directory or fails: two processes
         * starting in the same second cannot both claim one name. */
        if (mkdir(dir, 0777) == 0)
            break;
        int err = errno;
        if (err != EEXIST || k == RUN_DIR_TRIES) {
            *cause = xasprintf("cannot create run directory '%s': %s", dir,
                               err == EEXIST ? "too many runs in the same second" : strerror(err));
            free(dir);
            return -1;
        }
        free(dir);
        dir = NULL;
    }

    struct runlog *rl = runlog_alloc(dir);
    rl->start_wall = now;
    free(dir);
    if (runlog_write_start(rl, config_yaml, env, cause) < 0) {
        remove_run_dir(rl->dir);
        runlog_release(rl);
        return -1;
    }
    /* The headers reach the disk now: a run that cannot write even those
     * says so at once through runlog_error.  The new directory's entry is
     * made durable too (best effort: some file systems cannot). */
    flush_locked(rl, false);
    runlog_fsync_parent_dir(rl->dir);
    registry_add(rl);
    *out = rl;
    return 0;
}

/* ---- reopening ------------------------------------------------------------ */

static char *
read_small_file(const char *path, long max)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    struct sbuf b;
    sbuf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && (long)b.len < max)
        sbuf_putn(&b, chunk, n);
    fclose(f);
    return sbuf_take(&b);
}

/*
 * Make an existing regular file ready to append to: check its header and
 * cut off a final line without its newline (a crash mid-write).
 */
static int
prepare_append(struct runlog *rl, enum rl_file_id id, char **cause)
{
    struct rl_file *f = &rl->files[id];
    int fd = f->fd;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    char *path = path_join(rl->dir, rl_file_names[id]);
    char h[512];
    size_t hn = header_line(id, h, sizeof h);
    if (st.st_size == 0) {
        write_header(rl, id);
        free(path);
        return 0;
    }
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    if (rfd < 0) {
        *cause = xasprintf("%s: cannot read: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    int rc = 0;
    if (hn > 0) {
        char buf[512];
        ssize_t got = pread(rfd, buf, hn + 1, 0);
        if (got != (ssize_t)hn + 1 || memcmp(buf, h, hn) != 0 || buf[hn] != '\n') {
            size_t show = got > 0 ? (size_t)got : 0;
            buf[show < 80 ? show : 80] = '\0';
            buf[strcspn(buf, "\r\n")] = '\0';
            *cause = xasprintf("%s: not an nntop %s (first line '%s')", path,
                               rl_file_names[id], buf);
            rc = -1;
            goto out;
        }
    }
    /* Find the last newline, reading backwards in chunks. */
    off_t end = st.st_size, keep = 0;
    char last;
    if (pread(rfd, &last, 1, end - 1) == 1 && last == '\n')
        goto out;
    for (off_t pos = end; pos > 0 && keep == 0;) {
        char buf[4096];
        off_t start = pos > (off_t)sizeof buf ? pos - (off_t)sizeof buf : 0;
        ssize_t got = pread(rfd, buf, (size_t)(pos - start), start);
        if (got <= 0)
            break;
        for (ssize_t i = got - 1; i >= 0; i--)
            if (buf[i] == '\n') {
                keep = start + i + 1;
                break;
            }
        pos = start;
    }
    if (ftruncate(fd, keep) != 0) {
        *cause = xasprintf("%s: cannot cut its torn last line: %s", path, strerror(errno));
        rc = -1;
    }
    f->size = keep;
out:
    close(rfd);
    free(path);
    return rc;
}

/* ---- cutting a run back to a checkpoint ------------------------------ */

/* The step a log line starts with: a CSV's first field, or events' "step". */
static bool
line_step(enum rl_file_id id, const char *line, long *step, bool *eval)
{
    char *end;
    *eval = false;
    if (id == RL_EVENTS) {
        const char *s = strstr(line, "\"step\":");
        if (s == NULL)
            return false;
        *step = strtol(s + 7, &end, 10);
        return end != s + 7;
    }
    *step = strtol(line, &end, 10);
    if (end == line || *end != ',')
        return false;
    /* step,epoch,kind,...: the kind follows the epoch. */
    const char *k = id == RL_METRICS ? strchr(end + 1, ',') : NULL;
    *eval = k != NULL && (strncmp(k, ",val,", 5) == 0 || strncmp(k, ",test,", 6) == 0);
    return true;
}

/*
 * Rewrite one file of run_dir without the rows that come after a
 * checkpoint at step: every row and event of a later step (steps are
 * global steps, updates done, so a checkpoint of step k keeps row k).
 * Atomic (temporary file, rename); streams, so memory stays one line.
 * Returns the rows removed (0: the file was left alone), or -1.
 */
static long
truncate_file(const char *run_dir, enum rl_file_id id, long step, char **cause)
{
    char *path = path_join(run_dir, rl_file_names[id]);
    long removed = 0, kept = 0;
    FILE *in = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    long n;
    if (in == NULL) {
        free(path);
        return 0;
    }
    /* First pass: anything to do? (Lines of a bounded length only.) */
    size_t lineno = 0;
    while ((n = runlog_getline(&line, &cap, in, RUNLOG_LINE_MAX)) > 0) {
        long s;
        bool eval;
        lineno++;
        if (line_step(id, line, &s, &eval) && s > step)
            removed++;
    }
    if (n == -2) {
        *cause = xasprintf("%s:%zu: line longer than %zu bytes", path, lineno + 1,
                           RUNLOG_LINE_MAX);
        fclose(in);
        free(line);
        free(path);
        return -1;
    }
    if (removed == 0 || ferror(in)) {
        fclose(in);
        free(line);
        free(path);
        return 0;
    }
    rewind(in);
    struct runlog_atomic_file af;
    if (runlog_atomic_open(&af, path, cause) < 0) {
        fclose(in);
        free(line);
        free(path);
        return -1;
    }
    while ((n = runlog_getline(&line, &cap, in, RUNLOG_LINE_MAX)) > 0) {
        long s;
        bool eval;
        /* A cut last line (no newline) goes too: a crash left it. */
        if (line[n - 1] != '\n')
            break;
        if (line_step(id, line, &s, &eval) && s > step)
            continue;
        fwrite(line, 1, (size_t)n, af.f);
        kept++;
    }
    bool read_failed = ferror(in);
    fclose(in);
    free(line);
    if (read_failed) {
        *cause = xasprintf("%s: read failed: %s", path, strerror(errno));
        runlog_atomic_abort(&af);
        free(path);
        return -1;
    }
    free(path);
    return runlog_atomic_commit(&af, cause) < 0 ? -1 : removed;
}

int
runlog_truncate(const char *run_dir, long step, long removed[3], char **cause)
{
    static const enum rl_file_id ids[3] = {RL_METRICS, RL_LAYERS, RL_EVENTS};
    for (int i = 0; i < 3; i++) {
        removed[i] = truncate_file(run_dir, ids[i], step, cause);
        if (removed[i] < 0)
            return -1;
    }
    return 0;
}

/*
 * Remove "<name>.tmp.<pid>" files that a killed process left behind (its
 * atomic writes never reached their rename).  A file whose pid is alive
 * and not ours may be another process's write in progress: left alone.
 */
static void
remove_stale_tmp(const char *run_dir)
{
    DIR *d = opendir(run_dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *t = strstr(e->d_name, ".tmp.");
        if (t == NULL || t == e->d_name)
            continue;
        t += 5;
        while (strstr(t, ".tmp.") != NULL)
            t = strstr(t, ".tmp.") + 5;
        char *end;
        errno = 0;
        long pid = strtol(t, &end, 10);
        if (errno != 0 || end == t || *end != '\0' || pid <= 0 || t[0] < '0' || t[0] > '9')
            continue;
        bool gone = pid == (long)getpid()
                    || (pid <= INT_MAX && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
                    || pid > INT_MAX;
        if (!gone)
            continue;
        char *p = path_join(run_dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
}

/*
 * A resumed run says so at the end of env.txt, with the process now
 * writing it: readers take the last "pid" line as the writer's.  Best
 * effort: env.txt is a record, not something training waits for.
 */
static void
note_resume(const struct runlog *rl)
{
    char *path = path_join(rl->dir, "env.txt");
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return;
    char when[64], line[160];
    iso8601(when, sizeof when, &rl->start_wall, false);
    int n = snprintf(line, sizeof line, "resumed: %s\npid: %ld\n", when, (long)getpid());
    if (n > 0 && write(fd, line, (size_t)n) != n) {
        /* Nothing to do: the run goes on without the note. */
    }
    close(fd);
}

int
runlog_reopen(struct runlog **out, const char *run_dir, char **cause)
{
    *out = NULL;
    struct stat st;
    if (stat(run_dir, &st) != 0) {
        *cause = xasprintf("run directory '%s': %s", run_dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        *cause = xasprintf("run directory '%s': not a directory", run_dir);
        return -1;
    }
    remove_stale_tmp(run_dir);
    struct runlog *rl = runlog_alloc(run_dir);
    char *cfg = path_join(run_dir, "config.yaml");
    rl->config = read_small_file(cfg, CONFIG_READ_MAX);
    free(cfg);
    for (int i = 0; i < RL_TEXT_COUNT; i++) {
        if (open_append(rl, (enum rl_file_id)i, 0, cause) < 0
            || prepare_append(rl, (enum rl_file_id)i, cause) < 0) {
            runlog_release(rl);
            return -1;
        }
    }
    flush_locked(rl, false);
    note_resume(rl);
    registry_add(rl);
    *out = rl;
    return 0;
}

/* ---- closing ---------------------------------------------------------------- */

int
runlog_close(struct runlog *rl, char **cause)
{
    if (rl == NULL)
        return 0;
    registry_remove(rl);
    pthread_mutex_lock(&rl->lock);
    /* One last try for whatever is held, then it is lost: say how much. */
    long held = 0;
    for (int i = 0; i < RL_FILE_COUNT; i++) {
        struct rl_file *f = &rl->files[i];
        if (f->fd >= 0 && f->len > 0)
            write_out(rl, (enum rl_file_id)i);
        if (f->fd >= 0 && f->len == 0 && fsync(f->fd) != 0 && errno != EINVAL && errno != EROFS)
            set_error(rl, (enum rl_file_id)i, errno);
        held += f->rows + f->lost;
    }
    for (int i = 0; i < RL_FILE_COUNT; i++) {
        struct rl_file *f = &rl->files[i];
        if (f->fd >= 0 && close(f->fd) != 0 && errno != EINTR)
            set_error(rl, (enum rl_file_id)i, errno);
        f->fd = -1;
    }
    fsync_dir(rl->dir);
    pthread_mutex_unlock(&rl->lock);
    int rc = 0;
    if (rl->has_error) {
        if (cause != NULL)
            *cause = held > 0 ? xasprintf("%s (%ld rows not written)", rl->error, held)
                              : xstrdup(rl->error);
        rc = -1;
    }
    runlog_release(rl);
    return rc;
}

const char *
runlog_dir(const struct runlog *rl)
{
    return rl->dir;
}

double
runlog_elapsed(const struct runlog *rl)
{
    return mono_seconds() - rl->start_mono;
}

const char *
runlog_error(const struct runlog *rl)
{
    if (rl == NULL)
        return NULL;
    /* The message is written once, before the flag is released, and never
     * changed: the UI thread may read it without the lock. */
    return atomic_load_explicit(&rl->has_error, memory_order_acquire) ? rl->error : NULL;
}

/* ---- rows ----------------------------------------------------------------------- */

static const char *const metrics_kind_names[METRICS_KIND_COUNT] = { "train", "val", "test" };

/* Seconds since the epoch of a point wall_s into the run (the event file's clock). */
static double
tfe_wall_time(const struct runlog *rl, double wall_s)
{
    return (double)rl->start_wall.tv_sec + (double)rl->start_wall.tv_nsec * 1e-9 + wall_s;
}

/* Append one framed record (n bytes; 0 = nothing) to the event file; lock held. */
static void
tfe_append(struct runlog *rl, const uint8_t *rec, size_t n)
{
    if (n > 0)
        file_write(rl, RL_TFEVENTS, (const char *)rec, n, 1);
}

/* Room for one formatted number (and its comma) in a CSV row. */
#define NUM_MAX 40

/* Append s at buf[at] (len bytes in all), cut to fit; returns the new end. */
static size_t
put_str(char *buf, size_t at, size_t len, const char *s)
{
    if (at >= len)
        return len - 1;
    size_t room = len - at - 1, n = strlen(s);
    if (n > room)
        n = room;
    memcpy(buf + at, s, n);
    buf[at + n] = '\0';
    return at + n;
}

/* A measurement with a fixed number of decimals (shortest form when huge). */
static size_t
put_fixed(char *buf, size_t at, size_t len, double x, int decimals)
{
    char t[NUM_MAX];
    if (isfinite(x) && fabs(x) < 1e15)
        snprintf(t, sizeof t, "%.*f", decimals, x);
    else
        numfmt_exact_double(t, sizeof t, x);
    at = put_str(buf, at, len, ",");
    return put_str(buf, at, len, t);
}

static size_t
put_float(char *buf, size_t at, size_t len, float x, bool nan_empty)
{
    char t[NUM_MAX];
    if (nan_empty && isnan(x))
        t[0] = '\0';
    else
        numfmt_exact_float(t, sizeof t, x);
    at = put_str(buf, at, len, ",");
    return put_str(buf, at, len, t);
}

/* A CSV field: quoted when it holds a comma or a quote; line breaks become spaces. */
static size_t
put_csv_text(char *buf, size_t at, size_t len, const char *s, size_t max)
{
    char t[2 * RUNLOG_LAYER_NAME_MAX + 3];
    size_t n = 0, sn = strnlen(s, max);
    bool quote = memchr(s, ',', sn) != NULL || memchr(s, '"', sn) != NULL;
    if (quote)
        t[n++] = '"';
    for (size_t i = 0; i < sn && n + 3 < sizeof t; i++) {
        char c = s[i] == '\n' || s[i] == '\r' ? ' ' : s[i];
        if (c == '"')
            t[n++] = '"';
        t[n++] = c;
    }
    if (quote)
        t[n++] = '"';
    t[n] = '\0';
    at = put_str(buf, at, len, ",");
    return put_str(buf, at, len, t);
}

/* A CSV row and (rec_len > 0) its event-file record, appended together. */
static void
append_row(struct runlog *rl, enum rl_file_id id, const char *line, size_t n,
           const uint8_t *rec, size_t rec_len)
{
    pthread_mutex_lock(&rl->lock);
    file_write(rl, id, line, n, 1);
    tfe_append(rl, rec, rec_len);
    maybe_flush(rl);
    pthread_mutex_unlock(&rl->lock);
}

void
runlog_metrics_row(struct runlog *rl, const struct metrics_row *r)
{
    if (rl == NULL)
        return;
    char line[512], t[NUM_MAX];
    size_t at = 0;
    /* An out-of-range kind is a caller bug; log it as a train row, whole. */
    int kind = (unsigned)r->kind < METRICS_KIND_COUNT ? (int)r->kind : METRICS_TRAIN;
    bool train = kind == METRICS_TRAIN;
    numfmt_exact_double(t, sizeof t, r->epoch);
    at = (size_t)snprintf(line, sizeof line, "%ld,%s,%s", r->step, t, metrics_kind_names[kind]);
    at = put_float(line, at, sizeof line, r->loss, false);
    if (train)
        at = put_float(line, at, sizeof line, r->reg_loss, false);
    else
        at = put_str(line, at, sizeof line, ",");
    at = put_float(line, at, sizeof line, r->accuracy, false);
    if (train) {
        numfmt_exact_double(t, sizeof t, r->lr);
        at = put_str(line, at, sizeof line, ",");
        at = put_str(line, at, sizeof line, t);
        at = put_float(line, at, sizeof line, r->grad_norm, false);
        at = put_str(line, at, sizeof line, r->clipped ? ",1" : ",0");
        at = put_fixed(line, at, sizeof line, r->samples_per_s, 1);
    } else {
        at = put_str(line, at, sizeof line, ",,,,");
    }
    at = put_fixed(line, at, sizeof line, r->wall_s, 3);
    at = put_str(line, at, sizeof line, "\n");
    /* Encoded before taking the lock: the lock guards only appends. */
    uint8_t rec[TFEVENTS_RECORD_MAX];
    size_t rec_len = 0;
    if (atomic_load_explicit(&rl->tfe_on, memory_order_acquire)) {
        if (train)
            rl->tfe_wall_s = r->wall_s;
        rec_len = tfevents_metrics_record(rec, sizeof rec, tfe_wall_time(rl, r->wall_s), r);
    }
    append_row(rl, RL_METRICS, line, at, rec, rec_len);
}

void
runlog_layers_row(struct runlog *rl, const struct layer_row *r)
{
    if (rl == NULL)
        return;
    char line[1024];
    size_t at = (size_t)snprintf(line, sizeof line, "%ld,%d", r->step, r->layer);
    at = put_csv_text(line, at, sizeof line, r->name, sizeof r->name);
    at = put_csv_text(line, at, sizeof line, r->tensor, sizeof r->tensor);
    const float v[] = {
        r->act_mean, r->act_std, r->act_min, r->act_max, r->dead_frac, r->sat_frac,
        r->w_norm, r->g_norm, r->update_norm, r->update_ratio,
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        at = put_float(line, at, sizeof line, v[i], true);
    char t[64];
    snprintf(t, sizeof t, ",%ld,%ld\n", r->nan_count, r->inf_count);
    at = put_str(line, at, sizeof line, t);
    uint8_t rec[TFEVENTS_RECORD_MAX];
    size_t rec_len = 0;
    if (atomic_load_explicit(&rl->tfe_on, memory_order_acquire))
        rec_len = tfevents_layers_record(rec, sizeof rec, tfe_wall_time(rl, rl->tfe_wall_s), r);
    append_row(rl, RL_LAYERS, line, at, rec, rec_len);
}

void
runlog_histogram(struct runlog *rl, long step, const char *tag, const struct runlog_hist *h)
{
    if (rl == NULL || !atomic_load_explicit(&rl->tfe_on, memory_order_acquire))
        return;
    uint8_t rec[TFEVENTS_RECORD_MAX];
    size_t n = tfevents_histogram_record(rec, sizeof rec, tfe_wall_time(rl, rl->tfe_wall_s), step,
                                         tag, h);
    pthread_mutex_lock(&rl->lock);
    tfe_append(rl, rec, n);
    maybe_flush(rl);
    pthread_mutex_unlock(&rl->lock);
}

int
runlog_tfevents_start(struct runlog *rl, char **cause)
{
    if (rl == NULL || atomic_load_explicit(&rl->tfe_on, memory_order_acquire))
        return 0;
    char *path;
    int fd = tfevents_create(rl->dir, tfe_wall_time(rl, 0.0), &path, cause);
    if (fd < 0)
        return -1;
    uint8_t rec[256];
    size_t n = tfevents_version_record(rec, sizeof rec, tfe_wall_time(rl, 0.0));
    pthread_mutex_lock(&rl->lock);
    const char *slash = strrchr(path, '/');
    rl->tfe_name = xstrdup(slash != NULL ? slash + 1 : path);
    rl->files[RL_TFEVENTS].fd = fd;
    rl->files[RL_TFEVENTS].size = 0;
    file_write(rl, RL_TFEVENTS, (const char *)rec, n, 0);
    file_flush(rl, RL_TFEVENTS, false);
    atomic_store_explicit(&rl->tfe_on, true, memory_order_release);
    pthread_mutex_unlock(&rl->lock);
    free(path);
    return 0;
}

/* ---- events ------------------------------------------------------------------- */

static bool
is_blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

/* The full line for an event, checked to parse as one JSON object. */
static char *
event_line(struct runlog *rl, long step, const char *type, const char *fields)
{
    double wall = runlog_elapsed(rl);
    struct timespec at = rl->start_wall;
    long long ns = (long long)at.tv_nsec + (long long)llround(wall * 1e9);
    at.tv_sec += (time_t)(ns / 1000000000LL);
    at.tv_nsec = (long)(ns % 1000000000LL);
    char when[80];
    iso8601(when, sizeof when, &at, true);
    struct sbuf b;
    sbuf_init(&b);
    sbuf_printf(&b, "{\"step\":%ld,\"time\":\"%s\",\"wall_s\":%.3f,\"type\":", step, when, wall);
    runlog_json_put_str(&b, type, strlen(type));
    size_t base = b.len;
    if (fields != NULL && !is_blank(fields)) {
        sbuf_putc(&b, ',');
        sbuf_puts(&b, fields);
    }
    sbuf_putc(&b, '}');
    struct json v;
    char err[128];
    if (runlog_json_parse(&v, b.s, b.len, UINT64_MAX, err, sizeof err) == 0) {
        bool object = v.type == JSON_OBJECT;
        runlog_json_fini(&v);
        if (object)
            return sbuf_take(&b);
    }
    /* A caller's malformed fragment must not break the file's one-object-
     * per-line shape: keep it, as a string. */
    b.len = base;
    b.s[b.len] = '\0';
    sbuf_puts(&b, ",\"invalid_fields\":");
    runlog_json_put_str(&b, fields != NULL ? fields : "", fields != NULL ? strlen(fields) : 0);
    sbuf_putc(&b, '}');
    return sbuf_take(&b);
}

void
runlog_event(struct runlog *rl, long step, const char *type, const char *fmt, ...)
{
    if (rl == NULL)
        return;
    char *fields = NULL;
    if (fmt != NULL) {
        struct sbuf f;
        sbuf_init(&f);
        va_list ap;
        va_start(ap, fmt);
        sbuf_vprintf(&f, fmt, ap);
        va_end(ap);
        fields = sbuf_take(&f);
    }
    char *line = event_line(rl, step, type != NULL ? type : "", fields);
    free(fields);
    size_t n = strlen(line);
    /* One line, newline included, is one append: never torn apart. */
    line = xrealloc(line, n + 2);
    line[n++] = '\n';
    line[n] = '\0';
    pthread_mutex_lock(&rl->lock);
    file_write(rl, RL_EVENTS, line, n, 1);
    /* Events are rare and are what a post-mortem reads first. */
    file_flush(rl, RL_EVENTS, false);
    pthread_mutex_unlock(&rl->lock);
    free(line);
}

/* ---- checkpoints --------------------------------------------------------------- */

void
runlog_set_normalize(struct runlog *rl, const float *scale, const float *shift, int d)
{
    if (rl == NULL)
        return;
    struct sbuf j;
    sbuf_init(&j);
    char v[32];
    for (int k = 0; k < 2; k++) {
        const float *x = k == 0 ? scale : shift;
        sbuf_puts(&j, k == 0 ? "{\"scale\":[" : "],\"shift\":[");
        for (int i = 0; x != NULL && i < d; i++) {
            numfmt_exact_float(v, sizeof v, x[i]);
            sbuf_printf(&j, "%s%s", i ? "," : "", v);
        }
    }
    sbuf_puts(&j, "]}");
    pthread_mutex_lock(&rl->lock);
    free(rl->normalize);
    rl->normalize = sbuf_take(&j);
    pthread_mutex_unlock(&rl->lock);
}

int
runlog_checkpoint(struct runlog *rl, const struct model *m, const struct optim *o, long step,
                  double epoch, char **cause)
{
    if (rl == NULL) {
        *cause = xstrdup("no run directory to save a checkpoint in");
        return -1;
    }
    char name[64];
    snprintf(name, sizeof name, "checkpoint-%ld.safetensors", step);
    char *path = path_join(rl->dir, name);
    pthread_mutex_lock(&rl->lock);
    char *norm = rl->normalize != NULL ? xstrdup(rl->normalize) : NULL;
    pthread_mutex_unlock(&rl->lock);
    long long size = runlog_save_checkpoint_norm(path, m, o, step, epoch, rl->config, norm,
                                                 cause);
    free(norm);
    free(path);
    /* The event line, in the vocabulary's words (telemetry.h): the text
     * is the one the trainer shows live, so a replay shows it too. */
    char q[512], text[2 * TM_TEXT_MAX], t[TM_TEXT_MAX];
    if (size < 0) {
        const struct tm_event_def *def = tm_event_def_at(TM_EVT_ERROR);
        snprintf(t, sizeof t, "checkpoint failed: %s", *cause);
        runlog_event(rl, step, def->type,
                     "\"what\":\"checkpoint\",\"message\":%s,\"severity\":\"%s\",\"text\":%s",
                     runlog_json_str(q, sizeof q, *cause), tm_severity_name(def->severity),
                     runlog_json_str(text, sizeof text, t));
        return -1;
    }
    const struct tm_event_def *def = tm_event_def_at(TM_EVT_CHECKPOINT);
    snprintf(t, sizeof t, "saved %s", name);
    runlog_event(rl, step, def->type,
                 "\"file\":%s,\"bytes\":%lld,\"severity\":\"%s\",\"text\":%s",
                 runlog_json_str(q, sizeof q, name), size, tm_severity_name(def->severity),
                 runlog_json_str(text, sizeof text, t));
    return 0;
}
