/*
 * provenance.c - what a run records about its inputs in env.txt: the CPU
 * model, the config file, the SHA-256 and size of every data file read,
 * and, when the config lives in a git work tree, the commit, whether
 * tracked files differ from it, and that difference (code.diff).
 *
 * git is run as a child process (posix_spawnp, no shell, stderr to
 * /dev/null, --no-optional-locks so a run never takes the index lock);
 * when git is missing or the directory is not a work tree the git lines
 * are left out.  This file does not decide where anything is written.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nntop/runlog.h"
#include "nntop/sha256.h"
#include "nntop/xmem.h"
#include "runlog-int.h"

extern char **environ;

/* git's output kept at most (the commit, status); a diff has its own cap. */
#define GIT_SMALL_MAX 4096

/* The first "model name" of /proc/cpuinfo, or "unknown". */
static void
cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        char *v = colon + 1 + strspn(colon + 1, " \t");
        v[strcspn(v, "\n")] = '\0';
        snprintf(buf, len, "%s", v);
        break;
    }
    fclose(f);
}

/*
 * Run git -C dir ARGS... and keep up to max bytes of its stdout in *out
 * (heap, NUL-terminated); *total gets the full output size.  Returns git's
 * exit status, or -1 when it could not run.
 */
static int
git_run(const char *dir, const char *const *args, size_t max, struct sbuf *out, size_t *total)
{
    const char *argv[16] = {"git", "--no-optional-locks", "-C", dir};
    int argc = 4;
    for (int i = 0; args[i] != NULL && argc < 15; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "git", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        return -1;
    }
    char chunk[8192];
    *total = 0;
    for (;;) {
        ssize_t n = read(pipefd[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out->len < max)
            sbuf_putn(out, chunk, (size_t)n < max - out->len ? (size_t)n : max - out->len);
        *total += (size_t)n;
    }
    close(pipefd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* git's one-line answer (newline removed) into buf; 0, or -1 when git failed. */
static int
git_line(const char *dir, const char *const *args, char *buf, size_t len)
{
    struct sbuf b;
    sbuf_init(&b);
    size_t total;
    int rc = git_run(dir, args, GIT_SMALL_MAX, &b, &total);
    if (rc == 0 && b.s != NULL) {
        b.s[strcspn(b.s, "\n")] = '\0';
        snprintf(buf, len, "%s", b.s);
    }
    sbuf_fini(&b);
    return rc == 0 ? 0 : -1;
}

static void
git_lines(struct sbuf *env, const char *config_path, char **diff)
{
    char *copy = xstrdup(config_path);
    char *slash = strrchr(copy, '/');
    const char *dir = slash == NULL ? "." : slash == copy ? "/" : (*slash = '\0', copy);
    char root[PATH_MAX], commit[128];
    static const char *const toplevel[] = {"rev-parse", "--show-toplevel", NULL};
    static const char *const head[] = {"rev-parse", "--verify", "-q", "HEAD", NULL};
    if (git_line(dir, toplevel, root, sizeof root) != 0)
        goto out;
    sbuf_printf(env, "git_root: %s\n", root);
    if (git_line(dir, head, commit, sizeof commit) != 0) {
        sbuf_puts(env, "git_commit: none (no commits yet)\n");
        goto out;
    }
    sbuf_printf(env, "git_commit: %s\n", commit);
    /* Tracked files only, staged or not: what differs from the commit. */
    static const char *const diff_args[] = {"diff", "--no-color", "--no-ext-diff", "HEAD", NULL};
    struct sbuf d;
    sbuf_init(&d);
    size_t total = 0;
    if (git_run(dir, diff_args, RUNLOG_DIFF_MAX, &d, &total) != 0) {
        sbuf_fini(&d);
        sbuf_puts(env, "git_dirty: unknown\n");
        goto out;
    }
    sbuf_printf(env, "git_dirty: %s\n", total > 0 ? "yes" : "no");
    if (total > 0) {
        if (total > d.len) {
            sbuf_printf(&d, "\n# nntop: diff cut at %zu of %zu bytes\n", d.len, total);
            sbuf_printf(env, "code_diff: code.diff (%zu bytes, cut at %d)\n", total,
                        RUNLOG_DIFF_MAX);
        } else {
            sbuf_printf(env, "code_diff: code.diff (%zu bytes)\n", total);
        }
        *diff = sbuf_take(&d);
    } else {
        sbuf_fini(&d);
    }
out:
    free(copy);
}

void
provenance_lines(struct sbuf *b, const struct runlog_env *env, char **diff)
{
    *diff = NULL;
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    sbuf_printf(b, "cpu: %s\n", cpu);
    if (env == NULL)
        return;
    if (env->config_path != NULL) {
        char *abs = realpath(env->config_path, NULL);
        sbuf_printf(b, "config: %s\n", abs != NULL ? abs : env->config_path);
        free(abs);
    }
    for (int i = 0; i < env->ndata_files; i++) {
        char hex[SHA256_HEX_LEN + 1];
        uint64_t bytes;
        const char *path = env->data_files[i];
        if (sha256_file(path, hex, &bytes) == 0)
            sbuf_printf(b, "data_file: %s %llu %s\n", hex, (unsigned long long)bytes, path);
        else
            sbuf_printf(b, "data_file: unreadable (%s) %s\n", strerror(errno), path);
    }
    if (env->config_path != NULL)
        git_lines(b, env->config_path, diff);
}
