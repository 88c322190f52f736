/*
 * control.c - the run's control socket: a server wrapped around the feed
 * of a run being trained (commands from other processes go into that
 * feed's send, as key presses do), the line protocol both sides speak,
 * and the client an attached dashboard sends through.
 *
 * The server never blocks and never waits: accept, read and write are
 * non-blocking, a client whose reply cannot be written at once is
 * dropped, a message is at most CONTROL_LINE_MAX bytes, and a client may
 * send CONTROL_RATE_MAX commands a second; everything beyond is answered
 * with an error and changes nothing.  It does not interpret commands
 * beyond their shape: the trainer checks values and journals the outcome.
 */
#include "config.h"

#include "nntop/control.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nntop/mono.h"
#include "nntop/runlog.h"
#include "nntop/xmem.h"

#define SERVE_EVERY_S 0.01      /* the wrapped feed serves the socket at most this often */
#define CLIENT_WAIT_MS 2000     /* how long a client waits for its reply */
#define READ_MAX 16384          /* bytes read from one client a serve */

struct client {
    int fd;                     /* -1: free slot */
    char buf[CONTROL_LINE_MAX];
    size_t len;
    bool discarding;            /* inside a message that was too long: skip to its newline */
    double window;              /* start of the current second of the rate limit */
    int in_window;              /* commands in it */
};

struct control_server {
    int lfd;
    int dirfd;                  /* the run directory (for long paths and the rename) */
    uid_t owner;
    struct feed inner;
    struct client cl[CONTROL_MAX_CLIENTS];
    double next_serve;
};

/* ---- the protocol ------------------------------------------------------------ */

int
control_encode(char *buf, size_t len, const struct tm_command *cmd)
{
    const char *name = tm_cmd_name(cmd->kind);
    if (name == NULL)
        return -1;
    char v[40];
    runlog_json_num(v, sizeof v, cmd->value);
    int n = snprintf(buf, len, "{\"cmd\":\"%s\",\"n\":%ld,\"value\":%s,\"kind\":\"%s\","
                     "\"layer\":%d,\"dir\":%d}\n",
                     name, cmd->n, v, tm_clip_name(cmd->clip_kind), cmd->layer, cmd->dir);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* An optional integer member; -1 (with err) when present but not an integer in range. */
static int
get_int(const char *line, const char *key, long lo, long hi, long *out, char *err, size_t len)
{
    double x;
    if (!runlog_event_has(line, key))
        return 0;
    if (runlog_event_get_num(line, key, &x) != 0 || !isfinite(x) || x != floor(x) || x < lo ||
        x > hi) {
        snprintf(err, len, "\"%s\" must be an integer from %ld to %ld", key, lo, hi);
        return -1;
    }
    *out = (long)x;
    return 0;
}

int
control_decode(const char *line, struct tm_command *out, char *err, size_t len)
{
    char name[32];
    if (runlog_event_get_str(line, "cmd", name, sizeof name) != 0) {
        snprintf(err, len, "malformed message: expected a JSON object with a string \"cmd\"");
        return -1;
    }
    int kind = tm_cmd_parse(name);
    if (kind < 0) {
        snprintf(err, len, "unknown command '%s'", name);
        return -1;
    }
    struct tm_command c = {.kind = kind, .source = TM_SRC_SOCKET};
    long layer = 0, dir = 0;
    if (get_int(line, "n", -1000000000L, 1000000000L, &c.n, err, len) != 0 ||
        get_int(line, "layer", 0, TM_MAX_LAYERS, &layer, err, len) != 0 ||
        get_int(line, "dir", -1, 1, &dir, err, len) != 0)
        return -1;
    c.layer = (int)layer;
    c.dir = (int)dir;
    if (runlog_event_has(line, "value") &&
        (runlog_event_get_num(line, "value", &c.value) != 0 || isnan(c.value))) {
        snprintf(err, len, "\"value\" must be a number");
        return -1;
    }
    char kindname[16];
    if (runlog_event_has(line, "kind")) {
        if (runlog_event_get_str(line, "kind", kindname, sizeof kindname) != 0 ||
            tm_clip_parse(kindname) < 0) {
            snprintf(err, len, "\"kind\" must be none, norm or value");
            return -1;
        }
        c.clip_kind = tm_clip_parse(kindname);
    } else if (kind == TM_CMD_SET_CLIP) {
        snprintf(err, len, "clip needs \"kind\" (none, norm or value)");
        return -1;
    }
    *out = c;
    return 0;
}

/*
 * The socket's address: the path when it fits sun_path, else the same
 * name through /proc/self/fd/<dirfd> (Linux resolves it for bind and
 * connect alike).  Returns 0, or -1 when neither fits.
 */
static int
sock_addr(struct sockaddr_un *sa, const char *run_dir, int dirfd, const char *name)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof sa->sun_path, "%s/%s", run_dir, name);
    if (n > 0 && (size_t)n < sizeof sa->sun_path)
        return 0;
    if (dirfd < 0)
        return -1;
    n = snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/%s", dirfd, name);
    return n > 0 && (size_t)n < sizeof sa->sun_path ? 0 : -1;
}

/* ---- the server ---------------------------------------------------------------- */

int
control_server_new(struct control_server **out, const char *run_dir, struct feed inner,
                   char **cause)
{
    *out = NULL;
    struct control_server *s = xcalloc(1, sizeof *s);
    s->lfd = -1;
    s->inner = inner;
    s->owner = geteuid();
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
        s->cl[i].fd = -1;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s.%ld", CONTROL_SOCK_NAME, (long)getpid());
    struct sockaddr_un sa;
    s->dirfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        *cause = xasprintf("%s: %s", run_dir, strerror(errno));
        goto fail;
    }
    if (sock_addr(&sa, run_dir, s->dirfd, tmp) != 0) {
        *cause = xasprintf("%s/%s: the path is too long for a socket", run_dir,
                           CONTROL_SOCK_NAME);
        goto fail;
    }
    s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->lfd < 0) {
        *cause = xasprintf("control socket: %s", strerror(errno));
        goto fail;
    }
    unlinkat(s->dirfd, tmp, 0);
    /*
     * Bound under a temporary name, made owner-only, then renamed: the
     * socket is never reachable under its real name with a wider mode,
     * and no process-wide umask is changed under the trainer's feet.
     */
    if (bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        fchmodat(s->dirfd, tmp, 0600, 0) != 0 || listen(s->lfd, CONTROL_MAX_CLIENTS) != 0 ||
        renameat(s->dirfd, tmp, s->dirfd, CONTROL_SOCK_NAME) != 0) {
        *cause = xasprintf("%s/%s: %s", run_dir, CONTROL_SOCK_NAME, strerror(errno));
        unlinkat(s->dirfd, tmp, 0);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->dirfd >= 0)
        close(s->dirfd);
    free(s);
    return -1;
}

static void
client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->len = 0;
    c->discarding = false;
}

/* Write a reply at once or drop the client: a viewer that does not read costs nothing. */
static void
reply(struct client *c, bool ok, const char *error)
{
    char line[CONTROL_LINE_MAX + 64];
    int n;
    if (ok) {
        n = snprintf(line, sizeof line, "{\"ok\":true}\n");
    } else {
        char js[2 * CONTROL_LINE_MAX];
        runlog_json_str(js, sizeof js, error);
        n = snprintf(line, sizeof line, "{\"ok\":false,\"error\":%.*s}\n", CONTROL_LINE_MAX, js);
    }
    if (n < 0 || (size_t)n >= sizeof line ||
        send(c->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)n)
        client_close(c);
}

static void
handle_line(struct control_server *s, struct client *c, const char *line)
{
    double now = mono_seconds();
    if (now - c->window >= 1.0) {
        c->window = now;
        c->in_window = 0;
    }
    if (++c->in_window > CONTROL_RATE_MAX) {
        char e[96];
        snprintf(e, sizeof e, "too many commands: at most %d a second", CONTROL_RATE_MAX);
        reply(c, false, e);
        return;
    }
    struct tm_command cmd;
    char err[CONTROL_LINE_MAX];
    if (control_decode(line, &cmd, err, sizeof err) != 0) {
        reply(c, false, err);
        return;
    }
    if (s->inner.cls->send(s->inner.self, &cmd, err, sizeof err) != 0) {
        reply(c, false, err);
        return;
    }
    reply(c, true, NULL);
}

/*
 * Read what one client sent: one read of READ_MAX bytes at most a
 * serve, so a flood costs little.
 */
static void
serve_client(struct control_server *s, struct client *c)
{
    char in[READ_MAX];
    ssize_t n = recv(c->fd, in, sizeof in, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        client_close(c);
        return;
    }
    for (ssize_t i = 0; i < n && c->fd >= 0; i++) {
        char ch = in[i];
        if (ch == '\n') {
            if (!c->discarding) {
                c->buf[c->len] = '\0';
                if (c->len > 0 && c->buf[c->len - 1] == '\r')
                    c->buf[--c->len] = '\0';
                if (memchr(c->buf, '\0', c->len) != NULL)
                    reply(c, false, "malformed message: NUL byte");
                else if (c->len > 0)
                    handle_line(s, c, c->buf);
            }
            c->len = 0;
            c->discarding = false;
            continue;
        }
        if (c->discarding)
            continue;
        if (c->len + 1 >= CONTROL_LINE_MAX) {
            char e[96];
            snprintf(e, sizeof e, "message too long: at most %d bytes a line",
                     CONTROL_LINE_MAX - 1);
            reply(c, false, e);
            c->discarding = true;
            c->len = 0;
            continue;
        }
        c->buf[c->len++] = ch;
    }
}

/* Accept the waiting connections: the owner's (or root's) get a slot, others an error. */
static void
serve_accept(struct control_server *s)
{
    for (int k = 0; k < CONTROL_MAX_CLIENTS; k++) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct client tmp = {.fd = fd};
        struct ucred cr;
        socklen_t crlen = sizeof cr;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0) {
            reply(&tmp, false, "refused: cannot tell who is connecting (SO_PEERCRED)");
            client_close(&tmp);
            continue;
        }
        if (cr.uid != s->owner && cr.uid != 0) {
            char e[128];
            snprintf(e, sizeof e, "refused: uid %ld does not own this run (uid %ld)",
                     (long)cr.uid, (long)s->owner);
            reply(&tmp, false, e);
            client_close(&tmp);
            continue;
        }
        int slot = -1;
        for (int i = 0; i < CONTROL_MAX_CLIENTS && slot < 0; i++)
            if (s->cl[i].fd < 0)
                slot = i;
        if (slot < 0) {
            char e[96];
            snprintf(e, sizeof e, "refused: %d viewers are connected already",
                     CONTROL_MAX_CLIENTS);
            reply(&tmp, false, e);
            client_close(&tmp);
            continue;
        }
        memset(&s->cl[slot], 0, sizeof s->cl[slot]);
        s->cl[slot].fd = fd;
        s->cl[slot].window = mono_seconds();
    }
}

void
control_server_serve(struct control_server *s)
{
    serve_accept(s);
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
        if (s->cl[i].fd >= 0)
            serve_client(s, &s->cl[i]);
}

static bool
server_poll(void *self, struct tm_record *out)
{
    struct control_server *s = self;
    double now = mono_coarse_seconds();
    if (now >= s->next_serve) {
        s->next_serve = now + SERVE_EVERY_S;
        control_server_serve(s);
    }
    return s->inner.cls->poll(s->inner.self, out);
}

static int
server_send(void *self, const struct tm_command *cmd, char *why, size_t len)
{
    struct control_server *s = self;
    return s->inner.cls->send(s->inner.self, cmd, why, len);
}

static uint64_t
server_dropped(void *self)
{
    struct control_server *s = self;
    return s->inner.cls->dropped(s->inner.self);
}

static bool
server_finished(void *self)
{
    struct control_server *s = self;
    return s->inner.cls->finished(s->inner.self);
}

static const struct feed_class server_feed_class = {
    .poll = server_poll,
    .send = server_send,
    .dropped = server_dropped,
    .finished = server_finished,
};

struct feed
control_server_feed(struct control_server *s)
{
    return (struct feed){.cls = &server_feed_class, .self = s};
}

void
control_server_free(struct control_server *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
        client_close(&s->cl[i]);
    close(s->lfd);
    unlinkat(s->dirfd, CONTROL_SOCK_NAME, 0);
    close(s->dirfd);
    free(s);
}

/* ---- the client ------------------------------------------------------------------ */

/* why = what + detail; the connection is closed. */
static int
client_fail(int *fd, char *why, size_t len, const char *what, const char *detail)
{
    snprintf(why, len, "%s%s", what, detail);
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
    return -1;
}

int
control_client_send(const char *run_dir, int *fd, const struct tm_command *cmd, char *why,
                    size_t len)
{
    char line[CONTROL_LINE_MAX];
    int n = control_encode(line, sizeof line, cmd);
    if (n < 0) {
        snprintf(why, len, "command %d has no name on the socket", cmd->kind);
        return -1;
    }
    if (*fd < 0) {
        struct sockaddr_un sa;
        int dirfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int rc = sock_addr(&sa, run_dir, dirfd, CONTROL_SOCK_NAME);
        *fd = rc == 0 ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
        if (*fd >= 0 && connect(*fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            rc = -1;
        int e = errno;
        if (dirfd >= 0)
            close(dirfd);
        if (rc != 0 || *fd < 0)
            return client_fail(fd, why, len, "read-only: no control socket: ", strerror(e));
    }
    for (int off = 0; off < n;) {
        ssize_t w = send(*fd, line + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return client_fail(fd, why, len, "control socket: ", strerror(errno));
        off += (int)w;
    }
    /* The reply: one line. */
    char in[CONTROL_LINE_MAX + 64];
    size_t got = 0;
    while (got == 0 || in[got - 1] != '\n') {
        struct pollfd p = {.fd = *fd, .events = POLLIN};
        int pr = poll(&p, 1, CLIENT_WAIT_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return client_fail(fd, why, len, "no reply from the writer", "");
        ssize_t r = recv(*fd, in + got, sizeof in - 1 - got, 0);
        if (r <= 0)
            return client_fail(fd, why, len, "the writer closed the control socket", "");
        got += (size_t)r;
        if (got >= sizeof in - 1)
            return client_fail(fd, why, len, "malformed reply from the writer", "");
    }
    in[got - 1] = '\0';
    bool ok = false;
    if (runlog_event_get_bool(in, "ok", &ok) != 0)
        return client_fail(fd, why, len, "malformed reply from the writer", "");
    if (ok)
        return 0;
    if (runlog_event_get_str(in, "error", why, len) != 0)
        snprintf(why, len, "the writer refused the command");
    return -1;
}
