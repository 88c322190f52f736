/*
 * control.h - steering a run from another process: the run's control
 * socket (<run_dir>/control.sock, AF_UNIX, mode 0600) and its protocol.
 *
 * One JSON object a line each way.  A client sends a command,
 *   {"cmd":"lr","value":0.01}   {"cmd":"pause"}   {"cmd":"clip","kind":"norm","value":1}
 * (the names are tm_cmd_name's; members n, value, kind, layer, dir as the
 * command takes them) and gets one reply line for it:
 *   {"ok":true}   or   {"ok":false,"error":"unknown command 'lr2'"}
 * "ok" means the command was queued exactly as a key press queues it; its
 * effect (or the trainer's refusal) shows in events.jsonl with
 * "source":"socket", as every change does.
 *
 * The server runs in the thread that consumes the run's feed (the
 * headless printer or the dashboard), wrapped around that feed, so it
 * adds no thread and no second producer to the control ring; all its
 * sockets are non-blocking and it never waits on a client.  Deliberately
 * not here: what a command does (the trainer), and any network transport.
 */
#ifndef NNTOP_CONTROL_H
#define NNTOP_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "nntop/telemetry.h"

#define CONTROL_SOCK_NAME "control.sock"
#define CONTROL_LINE_MAX 1024       /* longest message, newline included */
#define CONTROL_MAX_CLIENTS 16      /* viewers at once; more are told so and closed */
#define CONTROL_RATE_MAX 32         /* commands a client may send a second */

struct control_server;

/*
 * Listen on <run_dir>/control.sock (replacing a stale one), mode 0600,
 * serving commands into inner (borrowed; it must outlive the server).
 * Only peers of this process's uid, or root, are served (SO_PEERCRED).
 * Returns 0 and *out, or -1 with *cause (heap).
 */
int control_server_new(struct control_server **out, const char *run_dir, struct feed inner,
                       char **cause);
/* A feed that is inner with the socket served on each poll (valid until control_server_free). */
struct feed control_server_feed(struct control_server *s);
/* Serve the socket once now: accept, read, answer (never blocks). */
void control_server_serve(struct control_server *s);
/* Close every connection and remove the socket file; NULL allowed. */
void control_server_free(struct control_server *s);

/*
 * Encode cmd as one protocol line (with its '\n') into buf.  Returns the
 * length, or -1 when it does not fit.
 */
int control_encode(char *buf, size_t len, const struct tm_command *cmd);
/*
 * Decode one protocol line (no newline) into *out (source set to
 * TM_SRC_SOCKET).  Returns 0, or -1 with a one-line reason in err.
 */
int control_decode(const char *line, struct tm_command *out, char *err, size_t len);

/*
 * Send cmd to the run in run_dir over its socket: connect (*fd < 0) or
 * reuse *fd, write the line, wait up to 2 s for the reply.  Returns 0
 * when the writer accepted it; -1 with a one-line reason in why (no
 * socket, refused, no reply), *fd closed and -1 when the connection is
 * no use any more.
 */
int control_client_send(const char *run_dir, int *fd, const struct tm_command *cmd, char *why,
                        size_t len);

#endif
