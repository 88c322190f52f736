/*
 * blas-core.c - deciding whether OpenBLAS runs the kernels the CPU
 * deserves.  OpenBLAS names the core it picked; the CPU says which vector
 * units it has; the environment says whether the user chose, or asked us
 * not to.  blas_core_decide() turns those three into an action and one
 * line for the user, as a pure function so a table of cases tests it.
 * It does not touch the environment or exec anything: blas.c does that.
 */
#include "config.h"

#include "nntop/blas.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Kernel levels: what a core's kernels use, and what a CPU can run. */
enum level {
    LEVEL_OTHER,    /* SSE-era kernels, or a core this table does not know */
    LEVEL_AVX2,     /* AVX2 + FMA */
    LEVEL_AVX512,   /* AVX-512 F/BW/DQ/VL */
};

/*
 * OpenBLAS 0.3.21's x86-64 cores with AVX2 or AVX-512 kernels.  Zen and
 * Excavator are OpenBLAS's own choices for AMD CPUs and count as fine;
 * every other name (Prescott, Nehalem, Sandybridge, non-x86 cores) is
 * below AVX2.
 */
static const struct {
    const char *name;
    enum level level;
} core_levels[] = {
    {"Haswell", LEVEL_AVX2},
    {"Zen", LEVEL_AVX2},
    {"Excavator", LEVEL_AVX2},
    {"SkylakeX", LEVEL_AVX512},
    {"Cooperlake", LEVEL_AVX512},
    {"SapphireRapids", LEVEL_AVX512},
};

static enum level
core_level(const char *name)
{
    for (size_t i = 0; i < sizeof core_levels / sizeof core_levels[0]; i++)
        if (strcasecmp(name, core_levels[i].name) == 0)
            return core_levels[i].level;
    return LEVEL_OTHER;
}

static enum level
cpu_level(const struct blas_cpu *cpu)
{
    if (!(cpu->avx2 && cpu->fma))
        return LEVEL_OTHER;
    if (cpu->avx512f && cpu->avx512bw && cpu->avx512dq && cpu->avx512vl)
        return LEVEL_AVX512;
    return LEVEL_AVX2;
}

static bool
is_set(const char *v)
{
    return v != NULL && v[0] != '\0';
}

void
blas_core_decide(struct blas_core_choice *out, const char *chosen,
                 const struct blas_cpu *cpu, const struct blas_core_env *env)
{
    memset(out, 0, sizeof *out);
    if (chosen == NULL)
        chosen = "unknown";
    enum level have = core_level(chosen), can = cpu_level(cpu);
    const char *what = can == LEVEL_AVX512 ? "AVX-512" : "AVX2";
    const char *best = can == LEVEL_AVX512 ? "SkylakeX" : "Haswell";

    if (is_set(env->guard)) {
        /* This process is the re-exec: report, never switch again. */
        if (have >= can) {
            out->action = BLAS_CORE_SWITCHED;
            snprintf(out->note, sizeof out->note,
                     "BLAS: OpenBLAS chose %s on a CPU with %s: using %s", env->guard, what,
                     chosen);
        } else {
            out->action = BLAS_CORE_STUCK;
            snprintf(out->note, sizeof out->note,
                     "BLAS: OpenBLAS chose %s on a CPU with %s; asking for %s did not "
                     "take: running %s", env->guard, what,
                     is_set(env->coretype) ? env->coretype : best, chosen);
        }
        return;
    }
    if (is_set(env->coretype) && !is_set(env->test_fallback)) {
        /* The user's choice, silently: it may be deliberate (on AMD CPUs
         * the Haswell kernels often beat the AVX-512 ones). */
        out->action = BLAS_CORE_USER;
        return;
    }
    if (have >= can) {
        out->action = BLAS_CORE_FINE;
        return;
    }
    if (env->keep != NULL && strcmp(env->keep, "keep") == 0) {
        out->action = BLAS_CORE_KEPT;
        snprintf(out->note, sizeof out->note,
                 "BLAS: OpenBLAS chose %s on a CPU with %s: kept (NNTOP_BLAS_CORE=keep)",
                 chosen, what);
        return;
    }
    out->action = BLAS_CORE_SWITCH;
    out->target = best;
    snprintf(out->note, sizeof out->note,
             "BLAS: OpenBLAS chose %s on a CPU with %s: switching to %s", chosen, what, best);
}

void
blas_cpu_detect(struct blas_cpu *cpu)
{
    memset(cpu, 0, sizeof *cpu);
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    cpu->avx2 = __builtin_cpu_supports("avx2");
    cpu->fma = __builtin_cpu_supports("fma");
    cpu->avx512f = __builtin_cpu_supports("avx512f");
    cpu->avx512bw = __builtin_cpu_supports("avx512bw");
    cpu->avx512dq = __builtin_cpu_supports("avx512dq");
    cpu->avx512vl = __builtin_cpu_supports("avx512vl");
#endif
}
