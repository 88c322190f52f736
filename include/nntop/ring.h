/*
 * ring.h - a single-producer single-consumer lock-free ring of
 * variable-size records, one for telemetry (trainer -> UI) and one for
 * commands (UI -> trainer).
 *
 * A record is an opaque 32-bit type tag plus 0..ring_max_len() bytes of
 * payload.  The ring copies payloads in and out; it never looks inside
 * them, never allocates after ring_new(), never blocks and never locks.
 * Exactly one thread may call the producer functions (ring_push) and
 * exactly one thread the consumer functions (ring_peek, ring_pop,
 * ring_skip) at any one time; the query functions are safe from either.
 *
 * Deliberately not provided: multiple producers or consumers, blocking or
 * waiting (a paused trainer sleeps on its own condition variable), and any
 * notion of what a record means (that is telemetry.h).
 */
#ifndef NNTOP_RING_H
#define NNTOP_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ring;

/* Smallest and largest capacities ring_new() accepts (bytes, powers of two). */
#define RING_CAPACITY_MIN ((size_t)16)
#define RING_CAPACITY_MAX ((size_t)1 << 31)
/* Bytes of ring space a record header takes (u32 length + u32 type). */
#define RING_HEADER_SIZE ((size_t)8)

/*
 * New empty ring of capacity bytes, a power of two in
 * [RING_CAPACITY_MIN, RING_CAPACITY_MAX]; returns NULL (and allocates
 * nothing) for any other capacity.  Caller frees with ring_free().
 * A record of payload len occupies RING_HEADER_SIZE + len rounded up to 8.
 */
struct ring *ring_new(size_t capacity);
/* Free a ring (NULL is fine); neither side may use it afterwards. */
void ring_free(struct ring *r);

/*
 * Producer: append one record (copies len bytes from data, which may be
 * NULL when len is 0).  Returns false without waiting when the record does
 * not fit in the free space, or can never fit (len > ring_max_len()); the
 * ring is left unchanged and the drop counters grow by 1 and by len.
 */
bool ring_push(struct ring *r, uint32_t type, const void *data, size_t len);

/*
 * Producer: true when a record of len payload bytes would fit now, so a
 * push right after cannot fail (only the producer adds records).  Counts
 * nothing as dropped.
 */
bool ring_has_room(struct ring *r, size_t len);

/*
 * Consumer: describe the oldest record without consuming it.  Returns
 * false when the ring is empty; otherwise sets *type and *len (either
 * pointer may be NULL) and returns true.
 */
bool ring_peek(struct ring *r, uint32_t *type, size_t *len);

/*
 * Consumer: take the oldest record, copying its payload into buf (cap
 * bytes, borrowed; may be NULL when cap is 0).
 * Returns 1 when a record was taken: *type and *len describe it.
 * Returns 0 when the ring is empty: *type and *len are untouched.
 * Returns -1 when the oldest record is longer than cap: nothing is
 * consumed or copied, *type and *len describe the record, so the caller
 * can retry with a larger buffer or discard it with ring_skip().
 * type and len may be NULL when the caller does not need them.
 */
int ring_pop(struct ring *r, uint32_t *type, void *buf, size_t cap, size_t *len);

/* Consumer: discard the oldest record; returns false when the ring is empty. */
bool ring_skip(struct ring *r);

/*
 * Either side: true when no record is waiting.  A snapshot: only the
 * consumer can rely on "false" and only the producer on "true" staying so.
 */
bool ring_empty(const struct ring *r);
/*
 * Either side: pushes rejected so far (records, and their payload bytes).
 * Every rejected call counts, so a producer that retries a record counts
 * each failed attempt; the trainer never retries, so for telemetry this is
 * the number of records lost.
 */
uint64_t ring_dropped(const struct ring *r);
uint64_t ring_dropped_bytes(const struct ring *r);
/* Capacity in bytes, as given to ring_new(). */
size_t ring_capacity(const struct ring *r);
/* Largest payload that fits in an empty ring: capacity - RING_HEADER_SIZE. */
size_t ring_max_len(const struct ring *r);

#endif
