/*
 * check_sha256.c - SHA-256 against the FIPS 180-4 example vectors (and the
 * NIST one-million-'a' message), streaming in pieces of every size agreeing
 * with one call, and sha256_file on files of lengths around the padding
 * boundaries and on a missing file.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "nntop/sha256.h"
#include "nntop/xmem.h"

static void
digest_hex(char hex[SHA256_HEX_LEN + 1], const void *data, size_t n)
{
    struct sha256 s;
    uint8_t d[SHA256_BYTES];
    sha256_init(&s);
    sha256_update(&s, data, n);
    sha256_final(&s, d);
    sha256_hex(hex, d);
}

START_TEST(test_sha256__vectors)
{
    static const struct { const char *msg, *hex; } v[] = {
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
        { "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
          "klmnopqrlmnopqrsmnopqrstnopqrstu",
          "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
    };
    char hex[SHA256_HEX_LEN + 1];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        digest_hex(hex, v[i].msg, strlen(v[i].msg));
        ck_assert_str_eq(hex, v[i].hex);
    }
}
END_TEST

START_TEST(test_sha256__million_a)
{
    size_t n = 1000000;
    char *a = xmalloc(n);
    memset(a, 'a', n);
    char hex[SHA256_HEX_LEN + 1];
    digest_hex(hex, a, n);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}
END_TEST

/* Fed in pieces of k bytes, for every k up to 130, the digest is the same. */
START_TEST(test_sha256__streaming)
{
    uint8_t msg[300];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    char want[SHA256_HEX_LEN + 1], got[SHA256_HEX_LEN + 1];
    digest_hex(want, msg, sizeof msg);
    for (size_t k = 1; k <= 130; k++) {
        struct sha256 s;
        uint8_t d[SHA256_BYTES];
        sha256_init(&s);
        for (size_t at = 0; at < sizeof msg; at += k)
            sha256_update(&s, msg + at, at + k <= sizeof msg ? k : sizeof msg - at);
        sha256_final(&s, d);
        sha256_hex(got, d);
        ck_assert_msg(strcmp(got, want) == 0, "pieces of %zu: %s, want %s", k, got, want);
    }
}
END_TEST

/* Lengths 55, 56, 63, 64 and 65 sit on the padding's edges. */
START_TEST(test_sha256__file)
{
    const char *dir = check_tmpdir();
    static const size_t lens[] = { 0, 55, 56, 63, 64, 65, 70000 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char *path = xasprintf("%s/f%zu", dir, lens[i]);
        char *data = xmalloc(lens[i] + 1);
        for (size_t j = 0; j < lens[i]; j++)
            data[j] = (char)('a' + j % 26);
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, lens[i], f), lens[i]);
        fclose(f);
        char want[SHA256_HEX_LEN + 1], got[SHA256_HEX_LEN + 1];
        digest_hex(want, data, lens[i]);
        uint64_t bytes = 1;
        ck_assert_int_eq(sha256_file(path, got, &bytes), 0);
        ck_assert_str_eq(got, want);
        ck_assert_uint_eq(bytes, lens[i]);
        free(data);
        free(path);
    }
    char got[SHA256_HEX_LEN + 1];
    uint64_t bytes;
    char *missing = xasprintf("%s/missing", dir);
    errno = 0;
    ck_assert_int_eq(sha256_file(missing, got, &bytes), -1);
    ck_assert_int_eq(errno, ENOENT);
    free(missing);
}
END_TEST

static Suite *
sha256_suite(void)
{
    Suite *s = suite_create("sha256");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_sha256__vectors);
    tcase_add_test(tc, test_sha256__million_a);
    tcase_add_test(tc, test_sha256__streaming);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_sha256__file);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run(sha256_suite());
}
