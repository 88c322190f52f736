/*
 * check_control.c - the control socket's protocol (control.h): every
 * command kind has a name and survives encode/decode; malformed,
 * unknown and badly typed lines are refused with their exact messages;
 * and a real server wrapped around a recording feed answers a client
 * over the socket, passes the command on marked as from the socket,
 * and refuses a line that is too long.
 *
 * The end-to-end checks with a trainer, other uids and attached
 * dashboards are in tests/control.sh.  CK_FORK=no runs the tests in one
 * process, for gdb.
 */
#include "config.h"

#include "nntop/control.h"

#include <check.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "nntop/xmem.h"

START_TEST(test_control__names_roundtrip)
{
    for (int k = 0; k < TM_CMD_KIND_COUNT; k++) {
        const char *name = tm_cmd_name(k);
        ck_assert_msg(name != NULL, "command kind %d has no name", k);
        ck_assert_int_eq(tm_cmd_parse(name), k);
        struct tm_command c = {.kind = k, .clip_kind = TM_CLIP_NORM, .n = 7 - k,
                               .value = 0.125 * k, .layer = k % 3, .dir = k % 2 ? -1 : 1};
        char line[CONTROL_LINE_MAX], err[128];
        int n = control_encode(line, sizeof line, &c);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(line[n - 1], '\n');
        line[n - 1] = '\0';
        struct tm_command d;
        ck_assert_msg(control_decode(line, &d, err, sizeof err) == 0, "%s: %s", line, err);
        ck_assert_int_eq(d.kind, k);
        ck_assert_int_eq(d.clip_kind, TM_CLIP_NORM);
        ck_assert_int_eq(d.n, c.n);
        ck_assert(d.value == c.value);
        ck_assert_int_eq(d.layer, c.layer);
        ck_assert_int_eq(d.dir, c.dir);
        ck_assert_int_eq(d.source, TM_SRC_SOCKET);
    }
    ck_assert_ptr_null(tm_cmd_name(TM_CMD_KIND_COUNT));
    ck_assert_int_eq(tm_cmd_parse("nope"), -1);
}
END_TEST

START_TEST(test_control__decode_errors)
{
    static const struct {
        const char *line, *err;
    } bad[] = {
        {"", "malformed message: expected a JSON object with a string \"cmd\""},
        {"{\"cmd\":3}", "malformed message: expected a JSON object with a string \"cmd\""},
        {"[\"pause\"]", "malformed message: expected a JSON object with a string \"cmd\""},
        {"{\"cmd\":\"pause\"", "malformed message: expected a JSON object with a string \"cmd\""},
        {"{\"cmd\":\"lr2\"}", "unknown command 'lr2'"},
        {"{\"cmd\":\"lr\",\"value\":\"x\"}", "\"value\" must be a number"},
        {"{\"cmd\":\"lr\",\"value\":\"nan\"}", "\"value\" must be a number"},
        {"{\"cmd\":\"step\",\"n\":2.5}", "\"n\" must be an integer from -1000000000 to 1000000000"},
        {"{\"cmd\":\"step\",\"n\":1e12}", "\"n\" must be an integer from -1000000000 to 1000000000"},
        {"{\"cmd\":\"view\",\"dir\":2}", "\"dir\" must be an integer from -1 to 1"},
        {"{\"cmd\":\"clip\",\"value\":1}", "clip needs \"kind\" (none, norm or value)"},
        {"{\"cmd\":\"clip\",\"kind\":\"max\"}", "\"kind\" must be none, norm or value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tm_command c = {.kind = -5};
        char err[200] = "";
        ck_assert_int_eq(control_decode(bad[i].line, &c, err, sizeof err), -1);
        ck_assert_str_eq(err, bad[i].err);
        ck_assert_int_eq(c.kind, -5);
    }
    struct tm_command c;
    char err[200];
    ck_assert_int_eq(control_decode("{\"cmd\":\"lr\",\"value\":0.01,\"extra\":[1]}", &c, err,
                                    sizeof err), 0);
    ck_assert_int_eq(c.kind, TM_CMD_SET_LR);
    ck_assert(c.value == 0.01);
}
END_TEST

/* A feed that records what it was sent and refuses eval. */
struct rec_feed {
    struct tm_command got[8];
    int n;
};

static bool
rec_poll(void *self, struct tm_record *out)
{
    return false;
}

static int
rec_send(void *self, const struct tm_command *cmd, char *why, size_t len)
{
    struct rec_feed *f = self;
    if (cmd->kind == TM_CMD_EVAL) {
        snprintf(why, len, "no validation split");
        return -1;
    }
    if (f->n < 8)
        f->got[f->n++] = *cmd;
    return 0;
}

static uint64_t
rec_dropped(void *self)
{
    return 0;
}

static bool
rec_finished(void *self)
{
    return false;
}

static const struct feed_class rec_class = {rec_poll, rec_send, rec_dropped, rec_finished};

/* Write line to fd and read one reply line, serving the server meanwhile. */
static void
exchange(struct control_server *srv, int fd, const char *line, char *reply, size_t len)
{
    size_t n = strlen(line);
    ck_assert_int_eq(send(fd, line, n, MSG_NOSIGNAL), (ssize_t)n);
    size_t got = 0;
    for (int i = 0; i < 2000 && (got == 0 || reply[got - 1] != '\n'); i++) {
        control_server_serve(srv);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5) == 1) {
            ssize_t r = recv(fd, reply + got, len - 1 - got, 0);
            ck_assert_int_gt(r, 0);
            got += (size_t)r;
        }
    }
    ck_assert_msg(got > 0 && reply[got - 1] == '\n', "no reply to %s", line);
    reply[got - 1] = '\0';
}

START_TEST(test_control__server)
{
    char *dir = xasprintf("%s/ctl", check_tmpdir());
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    struct rec_feed rf = {0};
    struct feed inner = {.cls = &rec_class, .self = &rf};
    struct control_server *srv = NULL;
    char *cause = NULL;
    ck_assert_msg(control_server_new(&srv, dir, inner, &cause) == 0, "%s", cause);
    char *path = xasprintf("%s/%s", dir, CONTROL_SOCK_NAME);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0777, 0600);

    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char reply[2 * CONTROL_LINE_MAX];
    exchange(srv, fd, "{\"cmd\":\"lr\",\"value\":0.5}\n", reply, sizeof reply);
    ck_assert_str_eq(reply, "{\"ok\":true}");
    ck_assert_int_eq(rf.n, 1);
    ck_assert_int_eq(rf.got[0].kind, TM_CMD_SET_LR);
    ck_assert(rf.got[0].value == 0.5);
    ck_assert_int_eq(rf.got[0].source, TM_SRC_SOCKET);
    exchange(srv, fd, "{\"cmd\":\"eval\"}\n", reply, sizeof reply);
    ck_assert_str_eq(reply, "{\"ok\":false,\"error\":\"no validation split\"}");
    char *longline = xmalloc(3000);
    memset(longline, 'x', 2998);
    longline[2998] = '\n';
    longline[2999] = '\0';
    exchange(srv, fd, longline, reply, sizeof reply);
    ck_assert_str_eq(reply, "{\"ok\":false,\"error\":\"message too long: at most 1023 bytes a line\"}");
    /* The connection still works, and nothing else reached the feed. */
    exchange(srv, fd, "{\"cmd\":\"pause\"}\n", reply, sizeof reply);
    ck_assert_str_eq(reply, "{\"ok\":true}");
    ck_assert_int_eq(rf.n, 2);
    ck_assert_int_eq(rf.got[1].kind, TM_CMD_PAUSE);
    close(fd);

    /* The client side, against the same server (served from a child). */
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        for (int i = 0; i < 400; i++) {
            control_server_serve(srv);
            usleep(5000);
        }
        _exit(0);
    }
    int cfd = -1;
    char why[200] = "";
    struct tm_command q = {.kind = TM_CMD_EVAL};
    ck_assert_int_eq(control_client_send(dir, &cfd, &q, why, sizeof why), -1);
    ck_assert_str_eq(why, "no validation split");
    ck_assert_int_ge(cfd, 0);
    q.kind = TM_CMD_SAVE;
    ck_assert_msg(control_client_send(dir, &cfd, &q, why, sizeof why) == 0, "%s", why);
    close(cfd);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);

    control_server_free(srv);
    ck_assert_int_eq(stat(path, &st), -1);
    cfd = -1;
    ck_assert_int_eq(control_client_send(dir, &cfd, &q, why, sizeof why), -1);
    ck_assert_str_eq(why, "read-only: no control socket: No such file or directory");
    ck_assert_int_eq(cfd, -1);
    free(longline);
    free(path);
    free(dir);
}
END_TEST

Suite *control_suite(void);

Suite *
control_suite(void)
{
    Suite *s = suite_create("control");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_control__names_roundtrip);
    tcase_add_test(core, test_control__server);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_control__decode_errors);
    suite_add_tcase(s, errors);
    return s;
}

int
main(void)
{
    return check_run(control_suite());
}
