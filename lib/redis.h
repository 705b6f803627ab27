/* redis: a small RESP2 client over a plain TCP socket (no TLS: tunnel it
 * with stunnel, spiped or ssh -L). Commands are queued with redis_append
 * and sent together by redis_flush (pipelining); replies are read one by
 * one with redis_read. Failures leave a one-line reason in r->err, for
 * the caller to print ("connection refused", "ERR unknown command ..."),
 * and close the connection when the stream can no longer be trusted; the
 * next redis_connect (or redis_reconnect, with backoff) opens a new one. */
#ifndef PKIT_REDIS_H
#define PKIT_REDIS_H

#include <stddef.h>
#include <stdint.h>

/* redis://[USER:PASS@]HOST[:PORT][/DB]/KEY or redis://[USER:PASS@]HOST
 * [:PORT]/KEY. HOST may be [v6addr]. PASS may be empty (then
 * PQUEUE_REDIS_PASSWORD, if set, is used). KEY is everything after the
 * last path separator that follows the optional numeric DB. */
struct redis_addr {
	char host[256];
	char port[8];		/* "6379" by default */
	int db;			/* SELECT'ed when not 0 */
	char user[128];		/* "" without USER */
	char pass[256];		/* "" without PASS */
	char key[512];
	char text[1100];	/* the address without the password, for
				 * messages */
};

/* Parse s. Returns 0, or -1 with errno EINVAL and *why set to a short
 * static reason ("no key", "bad port", "not a redis:// address"). */
int redis_addr_parse(const char *s, struct redis_addr *a, const char **why);

enum {
	REDIS_STR = 1,		/* bulk string (binary, NUL-terminated too) */
	REDIS_STATUS,		/* +OK */
	REDIS_ERR,		/* -ERR ...: str holds the message */
	REDIS_INT,
	REDIS_NIL,		/* null bulk or null array */
	REDIS_ARR,
};

struct redis_reply {
	int type;
	long long integer;
	char *str;		/* STR, STATUS, ERR: malloc'd, len bytes + NUL */
	size_t len;
	size_t n;		/* ARR: element count */
	struct redis_reply *elem;
};

struct redis {
	int fd;			/* -1 when not connected */
	struct redis_addr addr;
	int64_t connect_timeout;	/* ns, default 5 s */
	int64_t io_timeout;	/* ns for one reply, default 30 s; a
				 * blocking command adds its own wait */
	char *out;
	size_t olen, ocap;
	char *in;
	size_t istart, iend, icap;
	unsigned pending;	/* replies still owed by the server */
	int64_t backoff;	/* ns, grows on failed reconnects */
	char err[512];
};

/* Set up r for address a (copied); no I/O. */
void redis_init(struct redis *r, const struct redis_addr *a);

/* Connect (with connect_timeout), AUTH (from the address or
 * PQUEUE_REDIS_PASSWORD) and SELECT. Returns 0, or -1 with errno and a
 * reason in r->err ("connection refused", "connect timed out",
 * "WRONGPASS ..."). Drops any queued commands. */
int redis_connect(struct redis *r);

/* Close the connection and drop queued commands and owed replies. */
void redis_close(struct redis *r);

/* Free buffers too (after redis_close). */
void redis_free(struct redis *r);

/* Reconnect after a failure, sleeping an exponential backoff (100 ms
 * doubling up to 5 s, with jitter) between attempts, for at most
 * `patience` ns (-1: forever). Returns 0, or -1 with errno and r->err from
 * the last attempt; EINTR if a handled signal arrived while sleeping. */
int redis_reconnect(struct redis *r, int64_t patience);

/* Queue one command of argc arguments (lens NULL: strlen of each). Returns
 * 0, or -1 with ENOMEM. */
int redis_append(struct redis *r, int argc, const char *const argv[],
    const size_t lens[]);

/* Queue a command of NUL-terminated strings ending with NULL. */
int redis_appendv(struct redis *r, const char *arg, ...)
    __attribute__((sentinel));

/* Send everything queued. Returns 0, or -1 with errno and r->err (the
 * connection is then closed). */
int redis_flush(struct redis *r);

/* Read the next reply, waiting at most io_timeout + extra ns. Returns 0
 * with *rep (free with redis_reply_free; a server error is a reply of
 * type REDIS_ERR, not a failure), or -1 with errno and r->err on a
 * protocol, I/O error or timeout (the connection is then closed:
 * ECONNRESET when the server went away, ETIMEDOUT, EPROTO). */
int redis_read(struct redis *r, int64_t extra, struct redis_reply **rep);

/* redis_append + redis_flush + redis_read, for one command. A server
 * error reply is returned as -1 with errno EIO and its text in r->err
 * (the connection stays open); *rep is then NULL. */
int redis_command(struct redis *r, struct redis_reply **rep, int argc,
    const char *const argv[], const size_t lens[]);
int redis_commandv(struct redis *r, struct redis_reply **rep,
    const char *arg, ...) __attribute__((sentinel));

void redis_reply_free(struct redis_reply *rep);

/* Element i of an array reply, or NULL when rep is not an array that
 * long. */
const struct redis_reply *redis_elem(const struct redis_reply *rep,
    size_t i);

#endif
