/*
 * check_ring.c - tests for the SPSC ring: record order, types and bytes,
 * wraparound with split payloads, exactly-full and overflow accounting,
 * bad capacities and short buffers, and a two-thread stress test that
 * verifies every byte of millions of records.
 *
 * It does not measure speed: the stress test asserts invariants only
 * (order, content, received + dropped == sent), never timings.
 *
 * RING_STRESS_RECORDS=N sets the stress tests' record count (default
 * 2 000 000, or 1 000 000 in a -fsanitize=thread build, which is about
 * thirty times slower).
 * CK_FORK=no runs the tests in one process, for gdb.
 */
#include "config.h"

#include "nntop/ring.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"

#define SEED_LEN 0x5eed1e46ULL
#define SEED_DATA 0xda7a5eedULL
/*
 * ThreadSanitizer makes every access and atomic operation many times
 * slower: 10 M records would take minutes there, so a TSan build sends 1 M
 * unless RING_STRESS_RECORDS says otherwise.  Every other build sends 2 M:
 * the 16 KiB ring wraps tens of thousands of times with that, and 10 M
 * took over the case's 120 s on a machine loaded 10-14 (both threads
 * yield while the ring is full or empty, so they crawl when cores are
 * scarce).
 */
#if defined(__SANITIZE_THREAD__)
#define RING_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RING_TEST_TSAN 1
#endif
#endif
#ifdef RING_TEST_TSAN
#define STRESS_RECORDS_DEFAULT 1000000ULL
#else
#define STRESS_RECORDS_DEFAULT 2000000ULL
#endif
#define STRESS_CAPACITY 16384  /* a few dozen records: the producer often finds it full */
#define STRESS_MAX_LEN 512
#define TEST_MAX_LEN 4096     /* longest payload any test pushes */

/* splitmix64's finaliser: a fixed, well-mixed function of x. */
static uint64_t
mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Payload length of record seq: 1..max_len, a seeded function of seq. */
static size_t
rec_len(uint64_t seq, size_t max_len)
{
    return 1 + (size_t)(mix64(seq ^ SEED_LEN) % max_len);
}

/* Payload bytes of record seq, so the consumer can verify every byte. */
static void
rec_fill(uint64_t seq, unsigned char *p, size_t len)
{
    uint64_t w = mix64(seq ^ SEED_DATA);
    size_t k = 0;
    for (; k + 8 <= len; k += 8) {
        memcpy(p + k, &w, 8);
        w += 0x9e3779b97f4a7c15ULL;
    }
    if (k < len)
        memcpy(p + k, &w, len - k);
}

/*
 * Index of the first byte where got differs from record seq, or -1.
 * Called once per record in the stress loop, so it uses no ck_assert:
 * every Check assertion that passes writes a checkpoint to the runner.
 */
static long
rec_mismatch(uint64_t seq, const unsigned char *got, size_t len)
{
    unsigned char want[TEST_MAX_LEN];
    if (len > sizeof want)
        return 0;   /* no test pushes this much: report it as wrong */
    rec_fill(seq, want, len);
    if (memcmp(want, got, len) == 0)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (want[i] != got[i])
            return (long)i;
    return -1;
}

/* Push record seq (type = seq, payload = rec_fill(seq)) of length len. */
static bool
push_seq(struct ring *r, uint64_t seq, size_t len)
{
    unsigned char buf[TEST_MAX_LEN];
    ck_assert(len <= sizeof buf);
    rec_fill(seq, buf, len);
    return ring_push(r, (uint32_t)seq, buf, len);
}

/* Pop one record and check it is record seq of length len. */
static void
pop_expect(struct ring *r, uint64_t seq, size_t len)
{
    unsigned char buf[TEST_MAX_LEN];
    uint32_t type = 0xdeadbeef;
    size_t got_len = (size_t)-1;
    int rc = ring_pop(r, &type, buf, sizeof buf, &got_len);
    ck_assert_msg(rc == 1, "record %llu: expected ring_pop to return 1, got %d",
                  (unsigned long long)seq, rc);
    ck_assert_msg(type == (uint32_t)seq, "expected type %u, got %u",
                  (unsigned)seq, (unsigned)type);
    ck_assert_msg(got_len == len, "record %llu: expected length %zu, got %zu",
                  (unsigned long long)seq, len, got_len);
    long bad = rec_mismatch(seq, buf, len);
    ck_assert_msg(bad < 0, "record %llu (length %zu): first wrong byte at %ld",
                  (unsigned long long)seq, len, bad);
}

static void
assert_empty(struct ring *r)
{
    unsigned char buf[8];
    uint32_t type = 7;
    size_t len = 9;
    ck_assert_msg(ring_empty(r), "expected an empty ring");
    int rc = ring_pop(r, &type, buf, sizeof buf, &len);
    ck_assert_msg(rc == 0, "expected ring_pop on empty ring to return 0, got %d", rc);
    ck_assert_msg(type == 7 && len == 9,
                  "ring_pop on empty ring changed *type/*len to %u/%zu",
                  (unsigned)type, len);
}

/* A 256-byte ring for tests that need nothing special. */
static struct ring *ring_fx;

static void
setup_ring(void)
{
    ring_fx = ring_new(256);
    ck_assert_ptr_nonnull(ring_fx);
}

static void
teardown_ring(void)
{
    ring_free(ring_fx);
    ring_fx = NULL;
}

/* ---- core ---- */

START_TEST(test_ring__new_free)
{
    struct ring *r = ring_fx;
    ck_assert_uint_eq(ring_capacity(r), 256);
    ck_assert_uint_eq(ring_max_len(r), 256 - RING_HEADER_SIZE);
    ck_assert_uint_eq(ring_dropped(r), 0);
    ck_assert_uint_eq(ring_dropped_bytes(r), 0);
    assert_empty(r);
    ring_free(NULL);
}
END_TEST

START_TEST(test_ring__push_pop_order)
{
    struct ring *r = ring_fx;
    static const size_t lens[] = { 1, 7, 8, 9, 16, 31, 0, 3 };
    size_t n = sizeof lens / sizeof lens[0];
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(push_seq(r, 1000 + i, lens[i]),
                      "push %zu (length %zu) into a fresh 256-byte ring failed",
                      i, lens[i]);
    ck_assert(!ring_empty(r));
    for (size_t i = 0; i < n; i++)
        pop_expect(r, 1000 + i, lens[i]);
    assert_empty(r);
    ck_assert_uint_eq(ring_dropped(r), 0);
}
END_TEST

START_TEST(test_ring__types_opaque)
{
    /* Every u32 is a valid tag, including those a ring might reserve. */
    struct ring *r = ring_fx;
    static const uint32_t types[] = { 0, 1, 0x7fffffffu, 0x80000000u, UINT32_MAX };
    for (size_t i = 0; i < 5; i++) {
        uint64_t v = i * 0x0101010101010101ULL;
        ck_assert(ring_push(r, types[i], &v, sizeof v));
    }
    for (size_t i = 0; i < 5; i++) {
        uint64_t v = 0;
        uint32_t type = 0;
        size_t len = 0;
        ck_assert_int_eq(ring_pop(r, &type, &v, sizeof v, &len), 1);
        ck_assert_msg(type == types[i], "record %zu: expected type %#x, got %#x",
                      i, (unsigned)types[i], (unsigned)type);
        ck_assert_uint_eq(len, sizeof v);
        ck_assert_uint_eq(v, i * 0x0101010101010101ULL);
    }
}
END_TEST

START_TEST(test_ring__zero_length)
{
    struct ring *r = ring_fx;
    ck_assert(ring_push(r, 42, NULL, 0));
    uint32_t type = 0;
    size_t len = 99;
    ck_assert_int_eq(ring_pop(r, &type, NULL, 0, &len), 1);
    ck_assert_uint_eq(type, 42);
    ck_assert_uint_eq(len, 0);
    assert_empty(r);
}
END_TEST

START_TEST(test_ring__peek_skip)
{
    struct ring *r = ring_fx;
    ck_assert(!ring_peek(r, NULL, NULL));
    ck_assert(!ring_skip(r));
    ck_assert(push_seq(r, 1, 13));
    ck_assert(push_seq(r, 2, 21));
    uint32_t type = 0;
    size_t len = 0;
    for (int i = 0; i < 2; i++) {
        ck_assert(ring_peek(r, &type, &len));
        ck_assert_msg(type == 1 && len == 13,
                      "peek #%d: expected type 1 length 13, got %u %zu", i,
                      (unsigned)type, len);
    }
    ck_assert(ring_skip(r));
    ck_assert(ring_peek(r, &type, NULL));
    ck_assert_uint_eq(type, 2);
    pop_expect(r, 2, 21);
    assert_empty(r);
}
END_TEST

START_TEST(test_ring__record_footprint)
{
    /* 8-byte header + payload padded to 8: lengths 1..8 take 16 bytes. */
    struct ring *r = ring_new(64);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(push_seq(r, (uint64_t)i, (size_t)(i + 5)),
                      "push %d of 4 sixteen-byte records into 64 bytes failed", i);
    ck_assert_msg(!ring_push(r, 9, NULL, 0),
                  "a header-only record fitted into a ring that should be full");
    for (int i = 0; i < 4; i++)
        pop_expect(r, (uint64_t)i, (size_t)(i + 5));
    ring_free(r);
}
END_TEST

/* ---- limits ---- */

START_TEST(test_ring__wraparound)
{
    /*
     * A 128-byte ring, odd sizes, several records in flight: the indices
     * pass the end of the buffer thousands of times, at every 8-aligned
     * offset, and many payloads are split across the end.
     */
    struct ring *r = ring_new(128);
    uint64_t next_push = 0, next_pop = 0, bytes = 0;
    unsigned straddled = 0;
    size_t max_len = ring_max_len(r);
    for (int round = 0; round < 20000; round++) {
        /* Fill until full ... */
        for (;;) {
            size_t len = rec_len(next_push, max_len / 2);
            size_t pos = (size_t)(bytes & 127);
            if (!push_seq(r, next_push, len))
                break;
            if (pos + RING_HEADER_SIZE + len > 128)
                straddled++;
            bytes += RING_HEADER_SIZE + ((len + 7) & ~(uint64_t)7);
            next_push++;
        }
        /* ... then drain one to three records. */
        for (int k = 0; k <= round % 3 && next_pop < next_push; k++) {
            pop_expect(r, next_pop, rec_len(next_pop, max_len / 2));
            next_pop++;
        }
    }
    while (next_pop < next_push) {
        pop_expect(r, next_pop, rec_len(next_pop, max_len / 2));
        next_pop++;
    }
    assert_empty(r);
    ck_assert_msg(bytes > 1000 * 128, "expected many laps, ring saw %llu bytes",
                  (unsigned long long)bytes);
    ck_assert_msg(straddled > 1000, "expected many split records, got %u", straddled);
    ring_free(r);
}
END_TEST

START_TEST(test_ring__largest_record_every_offset)
{
    /* Any record of ring_max_len() bytes fits an empty ring, wherever it starts. */
    struct ring *r = ring_new(128);
    size_t max_len = ring_max_len(r);
    for (uint64_t off = 0; off < 128 / 8; off++) {
        ck_assert(ring_push(r, 0, NULL, 0));          /* advance by 8 bytes */
        ck_assert_int_eq(ring_pop(r, NULL, NULL, 0, NULL), 1);
        ck_assert_msg(push_seq(r, off, max_len),
                      "largest record (%zu bytes) did not fit at offset %llu",
                      max_len, (unsigned long long)((off + 1) * 8 % 128));
        ck_assert_msg(!ring_push(r, 1, NULL, 0), "ring with the largest record not full");
        pop_expect(r, off, max_len);
        assert_empty(r);
    }
    ck_assert_uint_eq(ring_dropped(r), 128 / 8);
    ring_free(r);
}
END_TEST

START_TEST(test_ring__exactly_full)
{
    /* Four 64-byte records fill 256 bytes exactly (8 + 53 padded to 56). */
    struct ring *r = ring_fx;
    for (uint64_t i = 0; i < 4; i++)
        ck_assert(push_seq(r, i, 53));
    ck_assert_msg(!ring_push(r, 99, NULL, 0), "header-only push into a full ring succeeded");
    ck_assert_msg(!push_seq(r, 99, 5), "push into a full ring succeeded");
    ck_assert_msg(ring_dropped(r) == 2, "expected 2 drops, got %llu",
                  (unsigned long long)ring_dropped(r));
    ck_assert_msg(ring_dropped_bytes(r) == 5, "expected 5 dropped bytes, got %llu",
                  (unsigned long long)ring_dropped_bytes(r));

    /* Free one slot: a 64-byte record fits again, a bigger one does not. */
    pop_expect(r, 0, 53);
    ck_assert_msg(!push_seq(r, 98, 57), "a 72-byte record fitted into 64 free bytes");
    ck_assert(push_seq(r, 4, 56));
    ck_assert(!ring_push(r, 99, NULL, 0));
    ck_assert_uint_eq(ring_dropped(r), 4);
    ck_assert_uint_eq(ring_dropped_bytes(r), 5 + 57);

    /* Nothing the rejected pushes tried to write shows up. */
    for (uint64_t i = 1; i < 4; i++)
        pop_expect(r, i, 53);
    pop_expect(r, 4, 56);
    assert_empty(r);

    /* And the ring goes on working after drops. */
    for (uint64_t i = 10; i < 14; i++)
        ck_assert(push_seq(r, i, 56));
    for (uint64_t i = 10; i < 14; i++)
        pop_expect(r, i, 56);
    ck_assert_uint_eq(ring_dropped(r), 4);
}
END_TEST

START_TEST(test_ring__overflow_recovers)
{
    /* Keep pushing past full: every rejection counted, accepted ones intact. */
    struct ring *r = ring_new(1024);
    uint64_t sent = 0, accepted = 0, dropped_bytes = 0, next_pop = 0;
    uint64_t accepted_seq[4096];
    for (int round = 0; round < 200; round++) {
        for (int k = 0; k < 20; k++, sent++) {
            size_t len = rec_len(sent, 200);
            if (push_seq(r, sent, len))
                accepted_seq[accepted++ % 4096] = sent;
            else
                dropped_bytes += len;
        }
        /* Drain only half of what is there, so the ring stays near full. */
        for (int k = 0; k < 3 && next_pop < accepted; k++, next_pop++) {
            uint64_t seq = accepted_seq[next_pop % 4096];
            pop_expect(r, seq, rec_len(seq, 200));
        }
    }
    ck_assert_msg(ring_dropped(r) == sent - accepted,
                  "sent %llu, accepted %llu: expected %llu drops, counted %llu",
                  (unsigned long long)sent, (unsigned long long)accepted,
                  (unsigned long long)(sent - accepted),
                  (unsigned long long)ring_dropped(r));
    ck_assert_uint_eq(ring_dropped_bytes(r), dropped_bytes);
    ck_assert_msg(sent - accepted > 1000, "expected many drops, got %llu",
                  (unsigned long long)(sent - accepted));
    for (; next_pop < accepted; next_pop++) {
        uint64_t seq = accepted_seq[next_pop % 4096];
        pop_expect(r, seq, rec_len(seq, 200));
    }
    assert_empty(r);
    ring_free(r);
}
END_TEST

/* Two-thread stress test. */

struct stress {
    struct ring *r;
    uint64_t n;                 /* records to send */
    bool lossless;              /* retry a rejected push until it fits */
    _Atomic bool stop;          /* consumer found an error: producer quits */
    _Atomic bool done;          /* producer has made its last push */
    uint64_t failed_pushes;     /* producer's own count of rejected pushes */
    uint64_t failed_bytes;      /* and of their payload bytes */
};

static uint64_t
stress_records(void)
{
    const char *s = getenv("RING_STRESS_RECORDS");
    if (s == NULL || *s == '\0')
        return STRESS_RECORDS_DEFAULT;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    ck_assert_msg(*end == '\0' && n > 0,
                  "RING_STRESS_RECORDS must be a positive integer, got '%s'", s);
    return n;
}

static void *
stress_producer(void *arg)
{
    struct stress *st = arg;
    unsigned char buf[STRESS_MAX_LEN];
    for (uint64_t seq = 0; seq < st->n; seq++) {
        size_t len = rec_len(seq, STRESS_MAX_LEN);
        rec_fill(seq, buf, len);
        while (!ring_push(st->r, (uint32_t)seq, buf, len)) {
            st->failed_pushes++;
            st->failed_bytes += len;
            if (!st->lossless)
                break;
            if (atomic_load_explicit(&st->stop, memory_order_relaxed))
                goto out;
            sched_yield();
        }
    }
out:
    atomic_store_explicit(&st->done, true, memory_order_release);
    return NULL;
}

static void
run_stress(bool lossless)
{
    struct stress st = { .n = stress_records(), .lossless = lossless };
    st.r = ring_new(STRESS_CAPACITY);
    atomic_init(&st.stop, false);
    atomic_init(&st.done, false);
    ck_assert_msg(st.n < UINT32_MAX, "the type tag carries the sequence number");

    pthread_t producer;
    ck_assert_int_eq(pthread_create(&producer, NULL, stress_producer, &st), 0);

    /* Consumer: runs here, records the first error, never asserts mid-run. */
    unsigned char buf[STRESS_MAX_LEN];
    uint64_t received = 0, next = 0, gap_bytes = 0, gaps = 0;
    long bad_byte = -1;
    char err[200] = "";
    for (;;) {
        uint32_t type;
        size_t len;
        bool finished = atomic_load_explicit(&st.done, memory_order_acquire);
        int rc = ring_pop(st.r, &type, buf, sizeof buf, &len);
        if (rc == 0) {
            if (finished)
                break;
            sched_yield();
            continue;
        }
        uint64_t seq = type;
        if (rc < 0) {
            snprintf(err, sizeof err, "record %llu: length %zu above the %d sent at most",
                     (unsigned long long)seq, len, STRESS_MAX_LEN);
        } else if (seq < next || (lossless && seq != next)) {
            snprintf(err, sizeof err, "expected sequence %s%llu, got %llu",
                     lossless ? "" : ">= ", (unsigned long long)next,
                     (unsigned long long)seq);
        } else if (len != rec_len(seq, STRESS_MAX_LEN)) {
            snprintf(err, sizeof err, "record %llu: expected length %zu, got %zu",
                     (unsigned long long)seq, rec_len(seq, STRESS_MAX_LEN), len);
        } else if ((bad_byte = rec_mismatch(seq, buf, len)) >= 0) {
            snprintf(err, sizeof err, "record %llu (length %zu): first wrong byte at %ld",
                     (unsigned long long)seq, len, bad_byte);
        }
        if (err[0] != '\0') {
            atomic_store_explicit(&st.stop, true, memory_order_relaxed);
            break;
        }
        /* Records the producer gave up on lie between next and seq. */
        for (; next < seq; next++, gaps++)
            gap_bytes += rec_len(next, STRESS_MAX_LEN);
        next = seq + 1;
        received++;
    }
    for (; err[0] == '\0' && next < st.n; next++, gaps++)
        gap_bytes += rec_len(next, STRESS_MAX_LEN);

    ck_assert_int_eq(pthread_join(producer, NULL), 0);
    ck_assert_msg(err[0] == '\0', "%s consumer: %s", lossless ? "lossless" : "lossy", err);

    /* The producer's and the ring's accounts agree. */
    ck_assert_msg(ring_dropped(st.r) == st.failed_pushes,
                  "producer saw %llu rejected pushes, ring counted %llu",
                  (unsigned long long)st.failed_pushes,
                  (unsigned long long)ring_dropped(st.r));
    ck_assert_msg(ring_dropped_bytes(st.r) == st.failed_bytes,
                  "producer saw %llu rejected bytes, ring counted %llu",
                  (unsigned long long)st.failed_bytes,
                  (unsigned long long)ring_dropped_bytes(st.r));
    if (lossless) {
        ck_assert_msg(received == st.n, "sent %llu records, received %llu",
                      (unsigned long long)st.n, (unsigned long long)received);
    } else {
        ck_assert_msg(received + ring_dropped(st.r) == st.n,
                      "sent %llu: received %llu + dropped %llu = %llu",
                      (unsigned long long)st.n, (unsigned long long)received,
                      (unsigned long long)ring_dropped(st.r),
                      (unsigned long long)(received + ring_dropped(st.r)));
        /* The missing records are exactly the dropped ones, byte for byte. */
        ck_assert_msg(gaps == ring_dropped(st.r) && gap_bytes == ring_dropped_bytes(st.r),
                      "missing %llu records of %llu bytes, dropped %llu of %llu",
                      (unsigned long long)gaps, (unsigned long long)gap_bytes,
                      (unsigned long long)ring_dropped(st.r),
                      (unsigned long long)ring_dropped_bytes(st.r));
        ck_assert_msg(received > 0, "lossy consumer received nothing");
    }
    assert_empty(st.r);
    ring_free(st.r);
}

START_TEST(test_ring__stress_lossless)
{
    run_stress(true);
}
END_TEST

START_TEST(test_ring__stress_lossy)
{
    run_stress(false);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_ring__new_bad_capacity)
{
    static const size_t bad[] = { 0, 1, 8, 15, 17, 24, 100, 1000, 4095, 4097 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ring *r = ring_new(bad[i]);
        ck_assert_msg(r == NULL, "ring_new(%zu) should fail, got a ring", bad[i]);
    }
    ck_assert_ptr_null(ring_new(RING_CAPACITY_MAX << 1));
    ck_assert_ptr_null(ring_new(SIZE_MAX));
    struct ring *r = ring_new(RING_CAPACITY_MIN);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(ring_max_len(r), RING_CAPACITY_MIN - RING_HEADER_SIZE);
    ring_free(r);
}
END_TEST

START_TEST(test_ring__push_too_large)
{
    struct ring *r = ring_fx;
    static unsigned char big[4096];
    size_t max_len = ring_max_len(r);
    ck_assert_msg(!ring_push(r, 1, big, max_len + 1),
                  "a %zu-byte record fitted into a %zu-byte ring", max_len + 1,
                  ring_capacity(r));
    ck_assert(!ring_push(r, 1, big, sizeof big));
    /* A length the u32 header cannot hold must not be truncated into one that fits. */
    size_t huge = sizeof(size_t) > 4 ? (size_t)((uint64_t)UINT32_MAX + 9) : SIZE_MAX;
    ck_assert_msg(!ring_push(r, 1, big, huge), "a %zu-byte record was accepted", huge);
    ck_assert_uint_eq(ring_dropped(r), 3);
    ck_assert_uint_eq(ring_dropped_bytes(r), (uint64_t)(max_len + 1) + sizeof big + huge);
    /* Nor may padding a length near SIZE_MAX wrap into a small record size. */
    ck_assert_msg(!ring_push(r, 1, big, SIZE_MAX), "a SIZE_MAX-byte record was accepted");
    ck_assert_msg(!ring_push(r, 1, big, SIZE_MAX - 7), "a SIZE_MAX-7-byte record was accepted");
    ck_assert_uint_eq(ring_dropped(r), 5);
    assert_empty(r);

    /* The ring is untouched: the largest legal record still fits, then one more does not. */
    ck_assert(push_seq(r, 5, max_len));
    ck_assert(!ring_push(r, 6, NULL, 0));
    pop_expect(r, 5, max_len);
    assert_empty(r);
}
END_TEST

START_TEST(test_ring__pop_short_buffer)
{
    struct ring *r = ring_fx;
    ck_assert(push_seq(r, 7, 40));
    ck_assert(push_seq(r, 8, 3));
    unsigned char small[39];
    memset(small, 0xab, sizeof small);
    uint32_t type = 0;
    size_t len = 0;
    int rc = ring_pop(r, &type, small, sizeof small, &len);
    ck_assert_msg(rc == -1, "pop of a 40-byte record into 39 bytes: expected -1, got %d", rc);
    ck_assert_msg(type == 7 && len == 40, "expected type 7 length 40, got %u %zu",
                  (unsigned)type, len);
    for (size_t i = 0; i < sizeof small; i++)
        ck_assert_msg(small[i] == 0xab, "short buffer written at byte %zu", i);
    ck_assert_int_eq(ring_pop(r, NULL, NULL, 0, NULL), -1);

    /* Nothing was consumed: a big enough buffer gets the record. */
    pop_expect(r, 7, 40);
    /* Or the caller may discard it. */
    ck_assert_int_eq(ring_pop(r, &type, small, 2, &len), -1);
    ck_assert(ring_skip(r));
    assert_empty(r);
    ck_assert_uint_eq(ring_dropped(r), 0);
}
END_TEST

Suite *ring_suite(void);

Suite *
ring_suite(void)
{
    Suite *s = suite_create("ring");

    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup_ring, teardown_ring);
    tcase_add_test(tc, test_ring__new_free);
    tcase_add_test(tc, test_ring__push_pop_order);
    tcase_add_test(tc, test_ring__types_opaque);
    tcase_add_test(tc, test_ring__zero_length);
    tcase_add_test(tc, test_ring__peek_skip);
    tcase_add_test(tc, test_ring__record_footprint);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup_ring, teardown_ring);
    /* The stress tests move gigabytes; sanitizer builds are far slower. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ring__wraparound);
    tcase_add_test(tc, test_ring__largest_record_every_offset);
    tcase_add_test(tc, test_ring__exactly_full);
    tcase_add_test(tc, test_ring__overflow_recovers);
    tcase_add_test(tc, test_ring__stress_lossless);
    tcase_add_test(tc, test_ring__stress_lossy);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup_ring, teardown_ring);
    tcase_add_test(tc, test_ring__new_bad_capacity);
    tcase_add_test(tc, test_ring__push_too_large);
    tcase_add_test(tc, test_ring__pop_short_buffer);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    return check_run(ring_suite());
}
