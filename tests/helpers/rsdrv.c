/* rsdrv: a test driver over lib/redis and lib/rstream.
 *
 *   rsdrv [-g GROUP] [-C CONSUMER] [-l LEASE] [-t TIMEOUT] [-P PATIENCE]
 *         ADDR COMMAND [ARG]...
 *
 *   raw ARG...        one command; an ARG "-" is stdin, whole; prints the
 *                     reply (bulk strings raw, then a newline)
 *   pipe N            N INCRs of KEY:ctr sent in one write; checks the
 *                     replies count up by one; prints the last
 *   wait              connect, reconnecting with backoff for PATIENCE;
 *                     prints "connected"
 *   push [-0] [MSG]...   pop [-0] [-c N | -f] [-n | -w D]
 *   run [-0] [-c N | -f] [-m MAX] -- CMD...   len  stat  purge
 *   dead [-0] [--requeue]
 *
 * Exit: 0, 1 failure or nothing to pop, 2 usage; run: the last status. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "msg.h"
#include "parse.h"
#include "redis.h"
#include "rstream.h"

static struct rstream s;
static int delim = '\n';

static void
fail(void)
{
	die(1, "%s: %s", s.r.addr.text, s.r.err);
}

static void
print_reply(const struct redis_reply *rep)
{
	size_t i;

	switch (rep->type) {
	case REDIS_STR:
		io_write_all(1, rep->str, rep->len);
		putchar('\n');
		break;
	case REDIS_STATUS:
		printf("%s\n", rep->str);
		break;
	case REDIS_INT:
		printf("%lld\n", rep->integer);
		break;
	case REDIS_NIL:
		printf("(nil)\n");
		break;
	case REDIS_ERR:
		printf("(error) %s\n", rep->str);
		break;
	case REDIS_ARR:
		for (i = 0; i < rep->n; i++)
			print_reply(&rep->elem[i]);
		break;
	}
	fflush(stdout);
}

static int
do_raw(int argc, char **argv)
{
	const char *args[64];
	size_t lens[64];
	struct redis_reply *rep;
	char *in = NULL;
	int i;

	if (argc < 1 || argc > 64)
		die(2, "raw: 1 to 64 arguments");
	for (i = 0; i < argc; i++) {
		args[i] = argv[i];
		lens[i] = strlen(argv[i]);
		if (strcmp(argv[i], "-") == 0 && in == NULL) {
			if (io_read_file(0, "/dev/stdin", &in, &lens[i]) < 0)
				die(1, "stdin:");
			args[i] = in;
		}
	}
	if (redis_connect(&s.r) < 0)
		fail();
	if (redis_command(&s.r, &rep, argc, args, lens) < 0)
		fail();
	print_reply(rep);
	redis_reply_free(rep);
	free(in);
	return 0;
}

static int
do_pipe(const char *arg)
{
	struct redis_reply *rep;
	long long n, i, first = 0;
	char key[600];

	if (int_parse(arg, 1, 10000000, &n) < 0)
		die(2, "pipe: bad N '%s'", arg);
	snprintf(key, sizeof(key), "%s:ctr", s.key);
	if (redis_connect(&s.r) < 0)
		fail();
	for (i = 0; i < n; i++)
		if (redis_appendv(&s.r, "INCR", key, (char *)NULL) < 0)
			die(1, "append:");
	if (redis_flush(&s.r) < 0)
		fail();
	for (i = 0; i < n; i++) {
		if (redis_read(&s.r, 0, &rep) < 0)
			fail();
		if (rep->type != REDIS_INT)
			die(1, "reply %lld is not an integer", i);
		if (i == 0)
			first = rep->integer;
		else if (rep->integer != first + i)
			die(1, "reply %lld is %lld, not %lld", i, rep->integer,
			    first + i);
		redis_reply_free(rep);
	}
	printf("%lld\n", first + n - 1);
	return 0;
}

static int
do_wait(void)
{
	int64_t t0 = clock_mono();

	if (redis_reconnect(&s.r, s.patience) < 0)
		fail();
	printf("connected after %lld ms\n",
	    (long long)((clock_mono() - t0) / NS_PER_MS));
	return 0;
}

static int
do_push(int argc, char **argv)
{
	long long toolong, done;
	size_t *lens;
	int i;

	if (argc > 0) {
		if ((lens = calloc((size_t)argc, sizeof(*lens))) == NULL)
			die(1, "calloc:");
		for (i = 0; i < argc; i++)
			lens[i] = strlen(argv[i]);
		if (rstream_push(&s, (size_t)argc, argv, lens, NULL) < 0)
			fail();
		free(lens);
		return 0;
	}
	if (rstream_push_fd(&s, 0, delim, 1 << 20, &toolong, &done) < 0)
		die(1, "%s: %s (%lld pushed)", s.r.addr.text, s.r.err, done);
	if (toolong > 0)
		die(1, "%lld records too long", toolong);
	return 0;
}

static void
note(void *arg, const char *line)
{
	(void)arg;
	warn("%s", line);
}

static int
dead_print(void *arg, const char *data, size_t len, const char *attempts,
    const char *reason)
{
	char d = (char)delim;

	if (arg != NULL)
		fprintf(stderr, "attempts=%s reason=%s\n", attempts, reason);
	fflush(stdout);
	if (io_write_all(1, data, len) < 0 || io_write_all(1, &d, 1) < 0)
		return -1;
	return 0;
}

static int
do_queue(const char *cmd, int argc, char **argv)
{
	long long count = 1, max = 5, n;
	int64_t wait = -1;
	int c, requeue = 0, verbose_dead = 0, st;
	struct rstream_stat sst;

	optind = 0;
	while ((c = getopt(argc, argv, "+0c:fm:nrvw:")) != -1) {
		switch (c) {
		case '0': delim = '\0'; break;
		case 'c':
			if (int_parse(optarg, 1, LLONG_MAX, &count) < 0)
				die(2, "bad count");
			break;
		case 'f': count = -1; break;
		case 'm':
			if (int_parse(optarg, 1, INT_MAX, &max) < 0)
				die(2, "bad max");
			break;
		case 'n': wait = 0; break;
		case 'r': requeue = 1; break;
		case 'v': verbose_dead = 1; break;
		case 'w':
			if (duration_parse(optarg, &wait) < 0)
				die(2, "bad wait");
			break;
		default: die(2, "bad option");
		}
	}
	argc -= optind;
	argv += optind;
	if (rstream_connect(&s) < 0)
		fail();
	if (strcmp(cmd, "push") == 0)
		return do_push(argc, argv);
	if (strcmp(cmd, "pop") == 0) {
		n = rstream_pop_fd(&s, 1, delim, count, wait);
		if (n < 0 && errno == EPIPE)
			return 0;
		if (n < 0)
			fail();
		return n == 0 ? 1 : 0;
	}
	if (strcmp(cmd, "run") == 0) {
		if (argc < 1)
			die(2, "run: COMMAND missing");
		st = rstream_run_loop(&s, argv, delim, count, max, note, NULL);
		if (st < 0)
			fail();
		return st;
	}
	if (strcmp(cmd, "len") == 0 || strcmp(cmd, "stat") == 0) {
		if (rstream_stat(&s, &sst) < 0)
			fail();
		if (cmd[0] == 'l')
			printf("%lld\n", sst.length);
		else
			printf("%lld %lld %lld %lld %lld\n", sst.length,
			    sst.bytes, sst.oldest_ms, sst.inflight, sst.dead);
		return 0;
	}
	if (strcmp(cmd, "purge") == 0) {
		if ((n = rstream_purge(&s)) < 0)
			fail();
		printf("%lld\n", n);
		return 0;
	}
	if (strcmp(cmd, "dead") == 0) {
		if (rstream_dead(&s, requeue, dead_print,
		    verbose_dead ? &s : NULL) < 0)
			fail();
		return 0;
	}
	die(2, "unknown command '%s'", cmd);
}

int
main(int argc, char **argv)
{
	const char *group = NULL, *consumer = NULL, *why;
	int64_t lease = -1, timeout = -1, patience = -2;
	struct redis_addr a;
	int c;

	msg_init(argv[0]);
	while ((c = getopt(argc, argv, "+C:g:l:P:t:")) != -1) {
		switch (c) {
		case 'C': consumer = optarg; break;
		case 'g': group = optarg; break;
		case 'l':
			if (duration_parse(optarg, &lease) < 0)
				die(2, "bad lease");
			break;
		case 'P':
			if (duration_parse(optarg, &patience) < 0)
				die(2, "bad patience");
			break;
		case 't':
			if (duration_parse(optarg, &timeout) < 0)
				die(2, "bad timeout");
			break;
		default: die(2, "bad option");
		}
	}
	if (argc - optind < 2)
		die(2, "usage: rsdrv [options] ADDR COMMAND [ARG]...");
	if (redis_addr_parse(argv[optind], &a, &why) < 0)
		die(2, "%s: %s", argv[optind], why);
	rstream_init(&s, &a, group, consumer);
	if (lease >= 0)
		s.lease = lease;
	if (timeout >= 0)
		s.r.connect_timeout = timeout;
	if (patience >= -1)
		s.patience = patience;
	argv += optind + 1;
	argc -= optind + 1;
	if (strcmp(argv[0], "raw") == 0)
		c = do_raw(argc - 1, argv + 1);
	else if (strcmp(argv[0], "pipe") == 0 && argc == 2)
		c = do_pipe(argv[1]);
	else if (strcmp(argv[0], "wait") == 0)
		c = do_wait();
	else
		c = do_queue(argv[0], argc, argv);
	fflush(stdout);
	rstream_close(&s);
	return c;
}
