/*
 * ring.c - single-producer single-consumer lock-free ring of variable-size
 * records over a power-of-two byte buffer, built on C11 atomics.
 *
 * Layout.  head and tail are monotonic byte counts (bytes ever written,
 * bytes ever consumed); the buffer index is the count masked by
 * capacity - 1, and head - tail is the number of bytes in use even after
 * the counts wrap around SIZE_MAX, because unsigned arithmetic is modular
 * and capacity divides SIZE_MAX + 1.  A record is an 8-byte header
 * (u32 payload length, u32 type) followed by the payload padded to a
 * multiple of 8, so every record starts 8-aligned and a header never
 * straddles the end of the buffer (capacity is a multiple of 8).  A
 * payload that reaches the end is split: its first part fills the end of
 * the buffer and the rest continues at offset 0.  Splitting (rather than a
 * wrap marker that skips the tail of the buffer) wastes no space, so a
 * record fits whenever the free space is at least its size, and any record
 * of up to capacity - 8 bytes fits in an empty ring wherever the indices
 * happen to be.  Its price is that payloads cannot be handed out in place,
 * so there is no zero-copy reserve/commit: both sides copy once.
 *
 * What this file deliberately does not do: interpret records, wait for
 * space or data, or support more than one producer or one consumer.
 */
#include "config.h"

#include "nntop/ring.h"

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/xmem.h"

#define CACHE_LINE 64

/* The 8 bytes in front of every payload in the buffer. */
struct ring_header {
    uint32_t len;   /* payload bytes, without the padding */
    uint32_t type;  /* opaque to the ring */
};

_Static_assert(sizeof(struct ring_header) == RING_HEADER_SIZE,
               "record header must be exactly RING_HEADER_SIZE bytes");

/*
 * Each index sits on its own cache line with the other side's cached copy
 * of it: the producer's line holds head (which it writes) and tail_cache
 * (which only it reads and writes); the consumer's line holds tail and
 * head_cache.  The producer then touches the consumer's line only when its
 * cached tail says the ring is too full, and the consumer touches the
 * producer's line only when its cached head says the ring is empty, so in
 * the steady state the two cores do not bounce one line between them.
 *
 * Memory ordering:
 *   - The producer writes header and payload with plain stores, then
 *     publishes them with a release store of head.  The consumer reads head
 *     with an acquire load before it reads any byte below that head, so
 *     every byte it reads was written before (happens-before) its read.
 *   - The consumer reads a record with plain loads, then gives its bytes
 *     back with a release store of tail.  The producer reads tail with an
 *     acquire load before it overwrites any byte below that tail, so the
 *     consumer's reads of the old record happen before the producer's
 *     writes of the new one (no write-after-read race).
 *   - Each side reads its own index relaxed: it is the only writer.
 *   - A cached copy of the other index is only ever behind the real one
 *     (both only grow), so acting on it is conservative: the producer may
 *     think the ring fuller than it is and the consumer emptier, never the
 *     reverse.  A cache is refreshed only through the acquire load above,
 *     so the bytes it vouches for are already visible.
 *   - The drop counters are statistics that guard no data: relaxed.
 */
struct ring {
    /* Producer's line. */
    alignas(CACHE_LINE) _Atomic size_t head;
    size_t tail_cache;

    /* Consumer's line. */
    alignas(CACHE_LINE) _Atomic size_t tail;
    size_t head_cache;

    /* Written by the producer only when it rejects a push. */
    alignas(CACHE_LINE) _Atomic uint64_t dropped;
    _Atomic uint64_t dropped_bytes;

    /* Read-only after ring_new, shared by both sides without traffic. */
    alignas(CACHE_LINE) size_t capacity;
    size_t mask;

    alignas(CACHE_LINE) unsigned char buf[];
};

/* Ring bytes a record with len payload bytes occupies. */
static inline size_t
ring_record_size(size_t len)
{
    return RING_HEADER_SIZE + ((len + 7) & ~(size_t)7);
}

struct ring *
ring_new(size_t capacity)
{
    if (capacity < RING_CAPACITY_MIN || capacity > RING_CAPACITY_MAX
        || (capacity & (capacity - 1)) != 0)
        return NULL;

    /* Zeroed, so padding bytes a consumer never reads are still defined. */
    struct ring *r = xalloc_aligned(sizeof(struct ring) + capacity);
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->dropped, 0);
    atomic_init(&r->dropped_bytes, 0);
    r->tail_cache = 0;
    r->head_cache = 0;
    r->capacity = capacity;
    r->mask = capacity - 1;
    /* A lock-based fallback would make push block; refuse to pretend. */
    assert(atomic_is_lock_free(&r->head));
    return r;
}

void
ring_free(struct ring *r)
{
    free(r);
}

/* Copy n bytes into the buffer at monotonic position pos, splitting at the end. */
static void
ring_copy_in(struct ring *r, size_t pos, const void *src, size_t n)
{
    if (n == 0)
        return;
    size_t off = pos & r->mask;
    size_t first = r->capacity - off;
    if (first >= n) {
        memcpy(r->buf + off, src, n);
    } else {
        memcpy(r->buf + off, src, first);
        memcpy(r->buf, (const unsigned char *)src + first, n - first);
    }
}

/* Copy n bytes out of the buffer from monotonic position pos, splitting at the end. */
static void
ring_copy_out(const struct ring *r, size_t pos, void *dst, size_t n)
{
    if (n == 0)
        return;
    size_t off = pos & r->mask;
    size_t first = r->capacity - off;
    if (first >= n) {
        memcpy(dst, r->buf + off, n);
    } else {
        memcpy(dst, r->buf + off, first);
        memcpy((unsigned char *)dst + first, r->buf, n - first);
    }
}

static bool
ring_reject(struct ring *r, size_t len)
{
    atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->dropped_bytes, (uint64_t)len,
                              memory_order_relaxed);
    return false;
}

bool
ring_has_room(struct ring *r, size_t len)
{
    if (len > r->capacity - RING_HEADER_SIZE)
        return false;
    size_t need = ring_record_size(len);
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (r->capacity - (head - r->tail_cache) >= need)
        return true;
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    return r->capacity - (head - r->tail_cache) >= need;
}

bool
ring_push(struct ring *r, uint32_t type, const void *data, size_t len)
{
    assert(data != NULL || len == 0);
    if (!ring_has_room(r, len))
        return ring_reject(r, len);

    size_t need = ring_record_size(len);
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

    /* head is 8-aligned and capacity a multiple of 8: the header is contiguous. */
    struct ring_header h = { .len = (uint32_t)len, .type = type };
    memcpy(r->buf + (head & r->mask), &h, sizeof h);
    ring_copy_in(r, head + RING_HEADER_SIZE, data, len);

    atomic_store_explicit(&r->head, head + need, memory_order_release);
    return true;
}

/*
 * Consumer side: find the oldest record.  Returns false when empty;
 * otherwise fills *tail (its position) and *h (its header).
 */
static bool
ring_front(struct ring *r, size_t *tail, struct ring_header *h)
{
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (t == r->head_cache) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (t == r->head_cache)
            return false;
    }
    memcpy(h, r->buf + (t & r->mask), sizeof *h);
    /* A well-formed ring always holds whole records below head. */
    assert(h->len <= r->capacity - RING_HEADER_SIZE);
    assert(r->head_cache - t >= ring_record_size(h->len));
    *tail = t;
    return true;
}

bool
ring_peek(struct ring *r, uint32_t *type, size_t *len)
{
    size_t tail;
    struct ring_header h;
    if (!ring_front(r, &tail, &h))
        return false;
    if (type != NULL)
        *type = h.type;
    if (len != NULL)
        *len = h.len;
    return true;
}

int
ring_pop(struct ring *r, uint32_t *type, void *buf, size_t cap, size_t *len)
{
    size_t tail;
    struct ring_header h;
    if (!ring_front(r, &tail, &h))
        return 0;
    if (type != NULL)
        *type = h.type;
    if (len != NULL)
        *len = h.len;
    if (h.len > cap)
        return -1;
    assert(buf != NULL || h.len == 0);
    ring_copy_out(r, tail + RING_HEADER_SIZE, buf, h.len);
    atomic_store_explicit(&r->tail, tail + ring_record_size(h.len),
                          memory_order_release);
    return 1;
}

bool
ring_skip(struct ring *r)
{
    size_t tail;
    struct ring_header h;
    if (!ring_front(r, &tail, &h))
        return false;
    atomic_store_explicit(&r->tail, tail + ring_record_size(h.len),
                          memory_order_release);
    return true;
}

bool
ring_empty(const struct ring *r)
{
    /*
     * Each caller reads its own index exactly and the other one possibly
     * stale.  For the consumer a fresh-enough head > tail means a record
     * really waits (only the consumer removes records); for the producer
     * head == tail means the consumer really has taken everything (tail
     * never passes head).  The other answers may be stale, as documented.
     */
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    return head == tail;
}

uint64_t
ring_dropped(const struct ring *r)
{
    return atomic_load_explicit(&r->dropped, memory_order_relaxed);
}

uint64_t
ring_dropped_bytes(const struct ring *r)
{
    return atomic_load_explicit(&r->dropped_bytes, memory_order_relaxed);
}

size_t
ring_capacity(const struct ring *r)
{
    return r->capacity;
}

size_t
ring_max_len(const struct ring *r)
{
    return r->capacity - RING_HEADER_SIZE;
}
