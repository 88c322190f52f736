/*
 * main.c - options, loading the config, and choosing the consumer of the
 * telemetry stream: the dashboard, the headless printer, or (for
 * --replay) the dashboard fed from a run log.  Only this file wires the
 * modules together; it holds no training or drawing logic of its own.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <strings.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nntop/blas.h"
#include "nntop/gemm.h"
#include "nntop/cfg.h"
#include "nntop/control.h"
#include "nntop/doctor.h"
#include "nntop/headless.h"
#include "nntop/replay.h"
#include "nntop/runlog.h"
#include "nntop/runs.h"
#include "nntop/trainer.h"
#include "nntop/ui.h"
#include "nntop/xmem.h"

enum exit_status {
    EXIT_DONE = 0,
    EXIT_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_INCONCLUSIVE = 4,      /* --gradcheck could neither pass nor fail the gradients */
    EXIT_FINDINGS = 3,          /* --fail-on: the doctor raised such a finding */
    EXIT_INTERRUPTED = 130,
};

enum long_only {
    OPT_NO_LOG = 256,
    OPT_CHECK_CONFIG,
    OPT_REPRODUCE,
    OPT_REPLAY,
    OPT_ATTACH,
    OPT_EXIT_WHEN_DONE,
    OPT_GRADCHECK,
    OPT_KEEP_GOING,
    OPT_PAUSED,
    OPT_FAIL_ON,
};

static const struct option long_options[] = {
    {"headless", no_argument, NULL, 'H'},
    {"set", required_argument, NULL, 's'},
    {"steps", required_argument, NULL, 'n'},
    {"runs-dir", required_argument, NULL, 'o'},
    {"no-log", no_argument, NULL, OPT_NO_LOG},
    {"resume", required_argument, NULL, 'r'},
    {"reproduce", required_argument, NULL, OPT_REPRODUCE},
    {"replay", required_argument, NULL, OPT_REPLAY},
    {"attach", required_argument, NULL, OPT_ATTACH},
    {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
    {"gradcheck", no_argument, NULL, OPT_GRADCHECK},
    {"exit-when-done", no_argument, NULL, OPT_EXIT_WHEN_DONE},
    {"keep-going", no_argument, NULL, OPT_KEEP_GOING},
    {"paused", no_argument, NULL, OPT_PAUSED},
    {"verbose", no_argument, NULL, 'v'},
    {"fail-on", required_argument, NULL, OPT_FAIL_ON},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void
usage(FILE *fp)
{
    fputs("Usage: nntop [OPTIONS] [CONFIG]\n"
          "       nntop export RUN_DIR --to tfevents|csv [--out PATH]\n"
          "       nntop runs [DIR] [--sort KEY] [--format table|tsv]\n"
          "       nntop diff RUN_A RUN_B\n"
          "       nntop attach RUN_DIR          (the same as --attach RUN_DIR)\n"
          "Train a neural network and watch it live: loss curves, per-layer\n"
          "histograms, update ratios, dead units, gradient checks.\n"
          "Without CONFIG, runs the built-in demo: Fashion-MNIST when Debian's\n"
          "dataset-fashion-mnist is installed, else a spiral on minibatches.\n"
          "\n"
          "  -H, --headless          print progress lines instead of the dashboard\n"
          "  -s, --set KEY=VALUE     override a config key (dotted path, repeatable)\n"
          "  -n, --steps N           train N steps (overrides train.epochs/steps)\n"
          "  -o, --runs-dir DIR      where run directories go (default ./runs)\n"
          "      --no-log            write no run directory\n"
          "  -r, --resume PATH       continue a run from its directory or a checkpoint\n"
          "      --reproduce RUN_DIR re-run a logged run with its live changes\n"
          "      --replay RUN_DIR... show a logged run in the dashboard (read-only);\n"
          "                          up to 4 runs compared (curves overlaid, r selects)\n"
          "      --attach RUN_DIR    show a run another nntop is writing, as it grows\n"
          "                          (q detaches; the run goes on)\n"
          "      --check-config      validate, print the effective config, exit\n"
          "      --gradcheck         check gradients at step 0, print the table, exit\n"
          "      --exit-when-done    leave the dashboard when training ends\n"
          "      --keep-going        on NaN/Inf, pause instead of failing (headless)\n"
          "      --paused            start paused at step 0 (Space runs, n steps once)\n"
          "  -v, --verbose           headless: print every evaluation line\n"
          "      --fail-on SEVERITY  exit 3 when the doctor raised a finding at\n"
          "                          SEVERITY (warning or error) or above (headless)\n"
          "  -V, --version           print the version and exit\n"
          "  -h, --help              print this help and exit\n"
          "\n"
          "Commands on logged runs:\n"
          "  export RUN_DIR --to tfevents [--out DIR]   a TensorBoard event file\n"
          "  export RUN_DIR --to csv [--out FILE]       every scalar: step,wall_time,tag,value\n"
          "  runs [DIR] [--sort KEY] [--format tsv]     a table of the runs under DIR (runs/)\n"
          "  diff RUN_A RUN_B                           data, code, config, environment and\n"
          "                                             live changes that differ (exit 1)\n"
          "\n"
          "Exit status: 0 done, 1 training failed, 2 usage/config/data error,\n"
          "3 a doctor finding at the --fail-on severity (headless), 4 gradient check\n"
          "inconclusive, 130 interrupted.  Keys and config: man nntop.\n",
          fp);
}

static _Noreturn void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void
die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nntop: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'nntop --help'.\n", stderr);
    va_end(ap);
    exit(EXIT_USAGE);
}

static long
parse_count(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1) {
        fprintf(stderr, "nntop: %s: expected a positive integer, got '%s'\n", opt, s);
        exit(EXIT_USAGE);
    }
    return v;
}

/* The whole command line, for env.txt. */
static char *
join_argv(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = xmalloc(len);
    s[0] = '\0';
    for (int i = 0; i < argc; i++) {
        if (i > 0)
            strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

struct options {
    bool headless, no_log, check_config, gradcheck, exit_when_done, keep_going, paused, verbose;
    const char *config;
    const char *runs_dir;
    const char *resume, *reproduce, *replay, *attach;
    int nreplays;               /* --replay RUN_A RUN_B ...: the runs compared */
    const char **replays;
    long steps;
    int fail_on;                /* enum doctor_severity; 0 = never */
    int nsets;
    const char **sets;
};

static void
parse_options(struct options *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->sets = xcalloc((size_t)argc + 1, sizeof *o->sets);
    o->replays = xcalloc((size_t)argc + 1, sizeof *o->replays);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":Hs:n:o:r:vVh", long_options, NULL)) != -1) {
        switch (c) {
        case 'H': o->headless = true; break;
        case 's': o->sets[o->nsets++] = optarg; break;
        case 'n': o->steps = parse_count("--steps", optarg); break;
        case 'o': o->runs_dir = optarg; break;
        case 'r': o->resume = optarg; break;
        case OPT_NO_LOG: o->no_log = true; break;
        case OPT_REPRODUCE: o->reproduce = optarg; break;
        case OPT_REPLAY:
            o->replay = o->replay != NULL ? o->replay : optarg;
            o->replays[o->nreplays++] = optarg;
            break;
        case OPT_ATTACH: o->attach = optarg; break;
        case OPT_CHECK_CONFIG: o->check_config = true; break;
        case OPT_GRADCHECK: o->gradcheck = true; break;
        case OPT_EXIT_WHEN_DONE: o->exit_when_done = true; break;
        case OPT_KEEP_GOING: o->keep_going = true; break;
        case OPT_PAUSED: o->paused = true; break;
        case 'v': o->verbose = true; break;
        case OPT_FAIL_ON:
            if (strcmp(optarg, "warning") == 0)
                o->fail_on = DOC_WARNING;
            else if (strcmp(optarg, "error") == 0)
                o->fail_on = DOC_ERROR;
            else
                die_usage("--fail-on: expected warning or error, got '%s'", optarg);
            break;
        case 'V':
            printf("nntop %s\n", PACKAGE_VERSION);
            exit(EXIT_DONE);
        case 'h':
            usage(stdout);
            exit(EXIT_DONE);
        case ':':
            /* The option missing its value is always the last argument. */
            if (strncmp(argv[argc - 1], "--", 2) == 0)
                die_usage("option '%s' needs a value", argv[argc - 1]);
            die_usage("option '-%c' needs a value", optopt);
        default:
            /* optopt is the letter of an unknown short option (also inside
             * a bundle such as -Hx), 0 for an unknown long one. */
            if (optopt != 0)
                die_usage("unknown option '-%c'", optopt);
            die_usage("unknown option '%.*s'", (int)strcspn(argv[optind - 1], "="),
                      argv[optind - 1]);
        }
    }
    /* --replay RUN_A RUN_B ...: the arguments after the first run are runs too. */
    while (o->replay != NULL && optind < argc)
        o->replays[o->nreplays++] = argv[optind++];
    if (o->nreplays > UI_MAX_RUNS) {
        fprintf(stderr, "nntop: --replay: at most %d runs can be compared, got %d\n",
                UI_MAX_RUNS, o->nreplays);
        exit(EXIT_USAGE);
    }
    if (optind < argc)
        o->config = argv[optind++];
    if (optind < argc)
        die_usage("unexpected argument '%s' (one CONFIG at most)", argv[optind]);
    if (o->resume != NULL && o->reproduce != NULL)
        die_usage("--resume and --reproduce cannot be combined");
    if (o->replay != NULL && (o->config != NULL || o->resume != NULL || o->reproduce != NULL))
        die_usage("--replay takes a run directory and nothing else to train");
    if (o->attach != NULL &&
        (o->config != NULL || o->resume != NULL || o->reproduce != NULL || o->replay != NULL))
        die_usage("--attach takes a run directory and nothing else to train or replay");
    if (o->reproduce != NULL && o->config != NULL)
        die_usage("--reproduce reads the run's own config.yaml; give no CONFIG");
    /* A paused headless run is resumed through its run directory's control
     * socket; without one it would wait for ever. */
    if (o->keep_going && o->no_log && o->headless)
        die_usage("--keep-going with --no-log: nothing could resume the paused run "
                  "(it is steered through RUN_DIR/control.sock, nntop --attach RUN_DIR)");
}

/* config.yaml of the run that --resume names (a run directory, or a
 * checkpoint inside one). */
static void
resume_config_path(char *path, size_t len, const char *resume)
{
    struct stat st;
    if (stat(resume, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(path, len, "%s/config.yaml", resume);
        return;
    }
    const char *slash = strrchr(resume, '/');
    if (slash == NULL)
        snprintf(path, len, "config.yaml");
    else
        snprintf(path, len, "%.*s/config.yaml", (int)(slash - resume), resume);
}

/*
 * Make sure descriptors 0-2 are open (on /dev/null when closed), as
 * daemons and coreutils do: otherwise the first file the run opens
 * becomes "stdout" and progress lines land in metrics.csv.
 */
static void
open_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        /* open() returns the lowest free descriptor: this one. */
        int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (nfd != fd) {
            /* Nothing can be reported on a closed stderr. */
            if (nfd >= 0)
                close(nfd);
            exit(EXIT_FAILED);
        }
    }
}

/* A signal the parent left ignored (nohup, a background job) stays ignored. */
static bool
signal_ignored(int sig)
{
    struct sigaction old;
    return sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN;
}

/* Add the stopping signals that are not inherited as ignored to set. */
static void
add_stop_signals(sigset_t *set)
{
    static const int stops[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++)
        if (!signal_ignored(stops[i]))
            sigaddset(set, stops[i]);
}

/* Build the effective config: file (or demo, or the run's), overrides, checks. */
static void
load_config(struct cfg *c, const struct options *o)
{
    struct cfg_errs errs = {0};
    cfg_defaults(c);
    int rc;
    char path[PATH_MAX];
    if (o->reproduce != NULL) {
        snprintf(path, sizeof path, "%s/config.yaml", o->reproduce);
        rc = cfg_load_file(c, path, &errs);
    } else if (o->resume != NULL && o->config == NULL) {
        /* Resuming without a CONFIG continues with the run's own. */
        resume_config_path(path, sizeof path, o->resume);
        rc = cfg_load_file(c, path, &errs);
    } else if (o->config != NULL) {
        rc = cfg_load_file(c, o->config, &errs);
    } else {
        /* The real-data demo when Debian's Fashion-MNIST is there;
         * NNTOP_DEMO=spiral|fashion-mnist chooses (tests want the spiral). */
        const char *want = getenv("NNTOP_DEMO");
        bool fashion = want != NULL && want[0] != '\0'
                           ? strcmp(want, "fashion-mnist") == 0
                           : access(CFG_DEMO_FASHION_FILE, R_OK) == 0;
        if (want != NULL && want[0] != '\0' && !fashion && strcmp(want, "spiral") != 0) {
            fprintf(stderr, "nntop: NNTOP_DEMO: unknown demo '%s' (spiral or fashion-mnist)\n",
                    want);
            exit(EXIT_USAGE);
        }
        if (fashion)
            rc = cfg_load_string(c, cfg_demo_fashion_yaml, cfg_demo_fashion_yaml_len,
                                 "<demo-fashion-mnist>", &errs);
        else
            rc = cfg_load_string(c, cfg_demo_spiral_yaml, cfg_demo_spiral_yaml_len,
                                 "<demo-spiral>", &errs);
    }
    for (int i = 0; rc == 0 && i < o->nsets; i++)
        rc = cfg_set(c, o->sets[i], &errs);
    if (rc == 0 && o->steps > 0) {
        char s[64];
        snprintf(s, sizeof s, "train.steps=%ld", o->steps);
        rc = cfg_set(c, s, &errs);
    }
    if (rc == 0 && o->runs_dir != NULL) {
        if (strlen(o->runs_dir) >= sizeof c->log.dir) {
            fprintf(stderr, "nntop: --runs-dir: the path is longer than %zu bytes\n",
                    sizeof c->log.dir - 1);
            exit(EXIT_USAGE);
        }
        snprintf(c->log.dir, sizeof c->log.dir, "%s", o->runs_dir);
    }
    if (rc == 0)
        rc = cfg_validate(c, &errs);
    if (rc != 0) {
        cfg_errs_print(&errs, stderr);
        cfg_errs_fini(&errs);
        exit(EXIT_USAGE);
    }
    cfg_errs_fini(&errs);
    /* The checkpoint and run-log readers (--resume, --reproduce) keep to it too. */
    runlog_set_read_max(c->data.max_bytes);
}

/* Whether the locale's character set (setlocale done) is UTF-8: headless
 * finding lines then use an em dash, else "--". */
static bool
locale_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs != NULL && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
}

/* --replay RUN_DIR... (up to UI_MAX_RUNS compared), and --attach RUN_DIR
 * (the same reader, following the files). */
static int
run_replay(const struct options *o)
{
    struct replay *r[UI_MAX_RUNS] = {NULL};
    struct feed feeds[UI_MAX_RUNS];
    int n = o->attach != NULL ? 1 : o->nreplays;
    int rc = EXIT_DONE;
    for (int k = 0; k < n; k++) {
        char *cause = NULL;
        int opened = o->attach != NULL ? replay_attach(&r[k], o->attach, &cause)
                                       : replay_open(&r[k], o->replays[k], &cause);
        if (opened != 0) {
            fprintf(stderr, "nntop: %s\n", cause);
            free(cause);
            rc = EXIT_USAGE;
            goto out;
        }
        feeds[k] = replay_feed(r[k]);
    }
    char why[256];
    if (!o->headless && isatty(STDOUT_FILENO) && ui_can_start(why, sizeof why)) {
        struct ui_opts uo = {.exit_when_done = o->exit_when_done};
        if (ui_run_many(feeds, n, &uo) > 0)
            rc = EXIT_INTERRUPTED;
    } else {
        /* A followed run prints as a live one does: a line a second.
         * Compared runs print one after the other, each under its letter. */
        struct headless_opts ho = {.out = stdout, .err = stderr,
                                   .progress_every_s = o->attach != NULL ? 1.0 : 0.0,
                                   .summary = true, .utf8 = locale_utf8()};
        for (int k = 0; k < n; k++) {
            if (n > 1)
                printf("run %c: %s\n", 'A' + k, o->replays[k]);
            headless_run(&feeds[k], &ho);
        }
    }
out:
    for (int k = 0; k < n; k++)
        if (r[k] != NULL)
            replay_free(r[k]);
    return rc;
}

/* ---- commands on finished (or running) runs: nntop export|runs|diff ---- */

/* getopt_long over a command's own arguments (argv[0] is the command). */
static int
command_getopt(int argc, char **argv, const char *shorts, const struct option *longs)
{
    int c = getopt_long(argc, argv, shorts, longs, NULL);
    if (c == ':')
        die_usage("%s: option '%s' needs a value", argv[0], argv[optind - 1]);
    if (c == '?')
        die_usage("%s: unknown option '%s'", argv[0], argv[optind - 1]);
    return c;
}

static int
cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, 't'},
        {"out", required_argument, NULL, 'O'},
        {NULL, 0, NULL, 0},
    };
    const char *to = NULL, *out = NULL;
    int c;
    while ((c = command_getopt(argc, argv, ":", opts)) != -1) {
        if (c == 't')
            to = optarg;
        else
            out = optarg;
    }
    if (optind != argc - 1)
        die_usage("export: expected one RUN_DIR");
    const char *run = argv[optind];
    if (to == NULL)
        die_usage("export: --to tfevents or --to csv is required");
    char *cause = NULL;
    if (strcmp(to, "tfevents") == 0) {
        char *path = NULL;
        if (runlog_export_tfevents(run, out, &path, &cause) != 0)
            goto fail;
        printf("%s\n", path);
        free(path);
        return EXIT_DONE;
    }
    if (strcmp(to, "csv") != 0)
        die_usage("export: --to: expected tfevents or csv, got '%s'", to);
    FILE *f = stdout;
    if (out != NULL && strcmp(out, "-") != 0 && (f = fopen(out, "w")) == NULL) {
        cause = xasprintf("%s: %s", out, strerror(errno));
        goto fail;
    }
    int rc = runlog_export_csv(run, f, &cause);
    if (f != stdout && fclose(f) != 0 && rc == 0) {
        cause = xasprintf("%s: %s", out, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        if (f != stdout)
            remove(out);
        goto fail;
    }
    return EXIT_DONE;
fail:
    fprintf(stderr, "nntop: export: %s\n", cause);
    free(cause);
    return EXIT_USAGE;
}

static int
cmd_runs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"sort", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    bool tsv = false;
    int key = RUNS_SORT_START;
    int c;
    while ((c = command_getopt(argc, argv, ":", opts)) != -1) {
        if (c == 'f') {
            if (strcmp(optarg, "tsv") == 0)
                tsv = true;
            else if (strcmp(optarg, "table") != 0)
                die_usage("runs: --format: expected table or tsv, got '%s'", optarg);
        } else if ((key = runs_sort_parse(optarg)) < 0) {
            die_usage("runs: --sort: expected one of %s, got '%s'", runs_sort_names(), optarg);
        }
    }
    if (optind < argc - 1)
        die_usage("runs: unexpected argument '%s' (one DIR at most)", argv[optind + 1]);
    const char *root = optind < argc ? argv[optind] : "runs";
    struct run_summary *runs = NULL;
    size_t n = 0;
    char *cause = NULL;
    if (runs_list(root, &runs, &n, &cause) != 0) {
        fprintf(stderr, "nntop: runs: %s\n", cause);
        free(cause);
        return EXIT_USAGE;
    }
    runs_sort(runs, n, (enum runs_sort_key)key);
    runs_print(stdout, runs, n, tsv);
    free(runs);
    return EXIT_DONE;
}

static int
cmd_diff(int argc, char **argv)
{
    static const struct option opts[] = {{NULL, 0, NULL, 0}};
    while (command_getopt(argc, argv, ":", opts) != -1)
        ;
    if (argc - optind != 2)
        die_usage("diff: expected two run directories");
    char *cause = NULL;
    int nd = runs_diff(stdout, argv[optind], argv[optind + 1], &cause);
    if (nd < 0) {
        fprintf(stderr, "nntop: diff: %s\n", cause);
        free(cause);
        return EXIT_USAGE;
    }
    /* As diff(1): 0 the same, 1 different. */
    return nd > 0 ? 1 : 0;
}

/* nntop attach RUN_DIR [-H] [--exit-when-done]: --attach as a command. */
static int
cmd_attach(int argc, char **argv)
{
    static const struct option opts[] = {
        {"headless", no_argument, NULL, 'H'},
        {"exit-when-done", no_argument, NULL, OPT_EXIT_WHEN_DONE},
        {NULL, 0, NULL, 0},
    };
    struct options o;
    memset(&o, 0, sizeof o);
    int c;
    while ((c = command_getopt(argc, argv, ":H", opts)) != -1) {
        if (c == 'H')
            o.headless = true;
        else if (c == OPT_EXIT_WHEN_DONE)
            o.exit_when_done = true;
    }
    if (argc - optind != 1)
        die_usage("attach: expected one run directory");
    o.attach = argv[optind];
    return run_replay(&o);
}

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"export", cmd_export},
    {"runs", cmd_runs},
    {"diff", cmd_diff},
    {"attach", cmd_attach},
};

/* The command argv[1] names, or NULL (then argv[1] is an option or a CONFIG). */
static const struct command *
command_find(int argc, char **argv)
{
    if (argc < 2)
        return NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

/* The dashboard, unless told otherwise or it cannot start (then why is said). */
static bool
choose_interactive(const struct options *o)
{
    char why[256] = "";
    bool interactive = !o->headless && !o->gradcheck && isatty(STDOUT_FILENO);
    if (interactive && !ui_can_start(why, sizeof why)) {
        fprintf(stderr, "nntop: %s; using the headless printer\n", why);
        interactive = false;
    }
    return interactive;
}

static struct trainer_opts
trainer_options(const struct options *o, const char *cmdline, bool interactive)
{
    return (struct trainer_opts){
        .no_log = o->no_log || o->gradcheck,
        .resume = o->resume,
        .reproduce = o->reproduce,
        .cmdline = cmdline,
        .config_path = o->config,
        .keep_going = interactive || o->keep_going,
        .exit_when_done = !interactive || o->exit_when_done,
        .start_paused = o->gradcheck || o->paused,
        .retry_log = !interactive,
    };
}

/* A stop signal that reached a thread which does not block it: set on
 * that thread, read on this one, so a lock-free atomic, not a
 * volatile sig_atomic_t (which is for a handler on the reading thread). */
static _Atomic int stray_signal;

static void
note_stray_signal(int sig)
{
    atomic_store_explicit(&stray_signal, sig, memory_order_relaxed);
}

/*
 * Only this thread waits for the signals: block them before the worker
 * starts.  OpenBLAS starts its threads before main(), with nothing
 * blocked, and the kernel hands a process's signal to any thread that
 * does not block it while this one is not in sigtimedwait(): a handler
 * (not the default action, which would kill the run unlogged) notes it
 * for the headless loop.  The dashboard installs handlers of its own.
 */
static void
block_signals(void)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    add_stop_signals(&sigs);
    struct sigaction sa = {.sa_handler = note_stray_signal, .sa_flags = SA_RESTART};
    sigfillset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(&sigs, sig) == 1)
            sigaction(sig, &sa, NULL);
    sigaddset(&sigs, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/*
 * The plain printer until the run ends; returns the stop signal (0 for
 * none) and sets *status from the gradient check (--gradcheck) and the
 * findings (--fail-on).
 */
static int
run_headless(struct feed *feed, const struct options *o, int *status)
{
    sigset_t watch;
    sigemptyset(&watch);
    add_stop_signals(&watch);
    struct headless_result hr = {.max_severity = -1};
    struct headless_opts ho = {
        .out = stdout,
        .err = stderr,
        .progress_every_s = 1.0,
        .tty = isatty(STDOUT_FILENO),
        .verbose = o->verbose,
        .summary = !o->gradcheck,
        .signals = &watch,
        .stray = &stray_signal,
        .result = &hr,
    };
    ho.utf8 = locale_utf8();
    int sig = headless_run(feed, &ho);
    if (o->gradcheck)
        *status = !hr.gradcheck_seen                              ? EXIT_FAILED
                  : hr.gradcheck_verdict == TM_GC_PASS         ? EXIT_DONE
                  : hr.gradcheck_verdict == TM_GC_INCONCLUSIVE ? EXIT_INCONCLUSIVE
                                                               : EXIT_FAILED;
    if (o->fail_on > 0 && hr.max_severity >= o->fail_on)
        *status = EXIT_FINDINGS;
    return sig;
}

/* The exit status once the worker is joined: lost data outweighs an interruption. */
static int
final_status(struct trainer *t, int status, int sig)
{
    if (status == EXIT_DONE && trainer_exit_status(t) != 0)
        status = EXIT_FAILED;
    if (sig != 0)
        status = EXIT_INTERRUPTED;
    if (trainer_failure(t) != NULL) {
        fprintf(stderr, "nntop: %s\n", trainer_failure(t));
        status = EXIT_FAILED;
    }
    return status;
}

/*
 * The run's feed, served on its control socket so that other processes
 * can steer it (nntop --attach); *ctl is the server, NULL when there is
 * none: no run directory (--no-log), --gradcheck, or the socket failed
 * (said on stderr: attached viewers are read-only then).
 */
static struct feed
open_control(struct trainer *t, const struct options *o, struct control_server **ctl)
{
    struct feed feed = trainer_feed(t);
    const char *run_dir = trainer_run_dir(t);
    if (run_dir == NULL || run_dir[0] == '\0' || o->gradcheck)
        return feed;
    char *cause = NULL;
    if (control_server_new(ctl, run_dir, feed, &cause) == 0)
        return control_server_feed(*ctl);
    fprintf(stderr, "nntop: no control socket, attached viewers are read-only: %s\n", cause);
    free(cause);
    return feed;
}

/*
 * Consume the run until it ends: the dashboard when interactive (the
 * headless printer when the terminal cannot show it), else the headless
 * printer; --gradcheck asks for one check and quits.  Returns the signal
 * that stopped the consumer, or 0.
 */
static int
run_consumer(struct trainer *t, struct feed *feed, const struct options *o, bool interactive,
             int *status)
{
    int sig = 0;
    if (o->gradcheck) {
        struct tm_command gc = {.kind = TM_CMD_GRADCHECK};
        struct tm_command q = {.kind = TM_CMD_QUIT};
        char why[256];
        trainer_send(t, &gc, why, sizeof why);
        trainer_send(t, &q, why, sizeof why);
    }
    if (interactive) {
        struct ui_opts uo = {.exit_when_done = o->exit_when_done};
        sig = ui_run(feed, &uo);
        if (sig == UI_NO_TERMINAL) {
            fprintf(stderr, "nntop: the terminal cannot show the dashboard; "
                            "using the headless printer\n");
            interactive = false;
            sig = 0;
        }
    }
    if (!interactive)
        sig = run_headless(feed, o, status);
    return sig;
}

int
main(int argc, char **argv)
{
    open_std_fds();
    /* Before any thread: may re-execute nntop once with OpenBLAS's right kernels. */
    blas_core_start(argv);
    /* The conv layers' product kernels: the CPU's best, or NNTOP_CONV_KERNEL's. */
    char kernel_err[160];
    if (gemm_kernel_from_env(kernel_err, sizeof kernel_err) != 0) {
        fprintf(stderr, "nntop: %s\n", kernel_err);
        return 2;
    }
    /* Numbers in files stay in the C locale; only character handling follows the user. */
    setlocale(LC_CTYPE, "");

    const struct command *cmd = command_find(argc, argv);
    if (cmd != NULL) {
        opterr = 0;
        optind = 1;
        return cmd->run(argc - 1, argv + 1);
    }

    /* Everything below leaves through out:, which frees these. */
    struct options o;
    struct cfg *cfg = NULL;
    char *cmdline = NULL;
    struct trainer *t = NULL;
    struct control_server *ctl = NULL;
    char *cause = NULL;
    int status = EXIT_DONE;
    parse_options(&o, argc, argv);
    if (o.replay != NULL || o.attach != NULL) {
        status = run_replay(&o);
        goto out;
    }

    cfg = xcalloc(1, sizeof *cfg);
    load_config(cfg, &o);
    if (o.check_config) {
        char *yaml = cfg_to_yaml(cfg);
        fputs(yaml, stdout);
        free(yaml);
        goto out;
    }

    blas_set_threads(cfg->train.threads);

    /* Decide the consumer before anything runs. */
    bool interactive = choose_interactive(&o);
    cmdline = join_argv(argc, argv);
    struct trainer_opts topts = trainer_options(&o, cmdline, interactive);
    if (trainer_new(&t, cfg, &topts, &cause) != 0) {
        fprintf(stderr, "nntop: %s\n", cause);
        status = EXIT_USAGE;
        goto out;
    }

    block_signals();
    if (trainer_start(t, &cause) != 0) {
        fprintf(stderr, "nntop: %s\n", cause);
        status = EXIT_FAILED;
        goto out;
    }

    struct feed feed = open_control(t, &o, &ctl);
    int sig = run_consumer(t, &feed, &o, interactive, &status);
    trainer_join(t);
    control_server_free(ctl);
    ctl = NULL;
    status = final_status(t, status, sig);
out:
    control_server_free(ctl);
    trainer_free(t);
    free(cause);
    free(cmdline);
    free(cfg);
    free(o.sets);
    free(o.replays);
    return status;
}
