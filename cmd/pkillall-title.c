/* pkillall-title: find, list, signal and wait for processes by title.
 *
 *   pkillall-title [-SIG | -s SIG] [-0 | -l] [-e] [-F | -r] [-a]
 *                  [[-u USER] [-U USER] | -A] [-P PPID] [-n | -o]
 *                  [-w [-t TIMEOUT] [-K]] [-q] PATTERN...
 *
 * A process's title is its /proc/PID/cmdline with NULs as spaces and
 * trailing NULs and spaces removed (ps -o args). One pass over /proc
 * costs one fstatat (owner, a pre-filter) and one read of cmdline per
 * process; status (real and effective uid) is read only for processes
 * whose title matched, stat only for those and only for -P, -n, -o.
 *
 * Invariants:
 *   - never matches itself or an ancestor (the chain is computed once,
 *     before the scan), nor a process with an empty title (kernel
 *     threads, zombies);
 *   - by default only processes whose real AND effective uid are the
 *     caller's real uid match: anyone can choose a title, so a root
 *     watchdog must not be fooled by another user's process, not even a
 *     setuid one (`exec -a TITLE su` run by nobody has euid 0, ruid
 *     nobody); -u matches the effective uid, -U the real one (pgrep);
 *   - in a pid namespace whose /proc is another namespace's, nothing is
 *     scanned: exit 3 with a message;
 *   - each match is pinned with a pidfd, and its owner, title (and start
 *     time, when known) are read again after pinning; the signal goes
 *     through the pidfd, so a recycled PID is never hit;
 *   - a process gone between scan and signal (ESRCH, ENOENT) is not an
 *     error: it is what the caller wanted.
 * Exit: 0 at least one match and everything asked for succeeded, 1 no
 * match, 2 usage, 3 a signal failed (EPERM) or the wait timed out. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"
#include "io.h"
#include "msg.h"
#include "parse.h"
#include "proc.h"

enum { EXIT_MATCH = 0, EXIT_NOMATCH = 1, EXIT_USAGE = 2, EXIT_FAIL = 3 };
enum { MATCH_GLOB, MATCH_FIXED, MATCH_REGEX };
enum { OPT_CGROUP = 256, OPT_JSON };
enum { OUT_TEXT, OUT_JSON, OUT_COUNT };

/* After -K, how long KILLed survivors get to disappear. */
#define KILL_GRACE (5 * NS_PER_SEC)

struct opts {
	int sig;		/* 0 with -0 */
	int sig_given;		/* -SIG or -s */
	int check;		/* -0 */
	int list;		/* -l (also set by -c and --json) */
	int out;		/* OUT_*: how -l and -e print */
	int echo;		/* -e */
	int mode;		/* MATCH_* */
	int argv0;		/* -a */
	int all_users;		/* -A */
	int by_euid, by_ruid;	/* match the effective / real uid */
	uid_t euid, ruid;	/* -u / -U; both the caller's by default */
	pid_t ppid;		/* -1: any */
	int newest, oldest;
	int wait;
	int64_t timeout;	/* ns, -1: none */
	int kill;		/* -K */
	const char *cgroup;	/* --cgroup: only processes of that cgroup */
	pid_t *cg_pids;		/* its cgroup.procs, sorted */
	int cg_n;
	char **pats;
	int npats;
	regex_t *res;		/* with -r: npats compiled patterns */
};

struct match {
	pid_t pid;
	uint64_t start;		/* valid when the scan read stat */
	char *title;
	int pidfd;		/* -1: none (gone, or no pidfd support) */
	int waitable;		/* signalled (or pinned for a plain wait) */
	size_t slot;		/* its entry in wait_gone's table */
};

struct scan {
	const struct opts *o;
	pid_t *anc;		/* self and ancestors */
	size_t nanc;
	struct match *m;
	size_t n, cap;
	int need_stat;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [-SIG | -s SIG] [-0 | -l [-c | --json]] [-e] [-F | -r] [-a]\n"
	    "       %*s [[-u USER] [-U USER] | -A] [-P PPID] [-n | -o]\n"
	    "       %*s [--cgroup CGROUP] [-w [-t TIMEOUT] [-K]] [-q | -v] PATTERN...\n",
	    msg_prog(), (int)strlen(msg_prog()), "",
	    (int)strlen(msg_prog()), "");
}

static const char help_text[] =
    "\nFind, list, signal and wait for processes by title (a glob over the\n"
    "whole command line by default). Default action: send TERM.\n\n"
    "  -s, --signal SIG      send SIG instead of TERM (also -SIG first)\n"
    "  -0, --check           signal nothing; exit 0 if something matches\n"
    "  -l, --list            print PID TITLE per match; signal only with -s\n"
    "  -c, --count           print the number of matches (like -l)\n"
    "      --json            print matches as a JSON array of {pid, title}\n"
    "  -e, --echo            print PID TITLE per process signalled\n"
    "  -F, --fixed           the title equals PATTERN literally\n"
    "  -r, --regex           PATTERN is an extended regex (unanchored)\n"
    "  -a, --argv0           match argv[0] alone\n"
    "  -u, --user USER       match the effective uid USER\n"
    "  -U, --real-user USER  match the real uid USER\n"
    "  -A, --all-users       match every user's processes\n"
    "  -P, --parent PPID     only children of PPID\n"
    "  -n, --newest          only the newest match\n"
    "  -o, --oldest          only the oldest match\n"
    "      --cgroup CGROUP   only processes of that cgroup v2\n"
    "  -w, --wait            wait until every signalled process is gone\n"
    "  -t, --timeout TIME    with -w: give up after TIME (exit 3)\n"
    "  -K, --kill            with -w: KILL the survivors at the timeout\n"
    "  -q, --quiet           no notices\n"
    "  -v, --verbose         say what was signalled\n"
    "  -h, --help            print this help\n"
    "  -V, --version         print the version\n\n"
    "Default: only processes whose real and effective uid are yours.\n"
    "Exit: 0 match, 1 none, 2 usage, 3 a signal or the wait failed.\n"
    "See pkillall-title(1).\n";

/* -SIG is only recognised as the first argument (as in kill(1) and
 * pkill(1)), spelled with a digit or an upper-case letter, so it never
 * shadows an option cluster. -0 stays the "check only" option. */
static int
leading_signal(int argc, char **argv, int *sig)
{
	const char *a;

	if (argc < 2)
		return 0;
	a = argv[1];
	/* ASCII ranges, not isdigit/isupper: the locale's tables stay out
	 * of the resident set (and pkit runs in the C locale). */
	if (a[0] != '-' || !((a[1] >= '0' && a[1] <= '9') ||
	    (a[1] >= 'A' && a[1] <= 'Z')) || strcmp(a, "-0") == 0)
		return 0;
	return signal_parse(a + 1, sig) == 0 && *sig != 0;
}

static uid_t
user_uid(const char *s)
{
	struct user_spec u;

	if (strchr(s, ':') != NULL || user_parse(s, &u) < 0)
		die(EXIT_USAGE, "unknown user '%s'", s);
	return u.uid;
}

static void
check_options(const struct opts *o)
{
	if (o->check && (o->list || o->sig_given))
		die(EXIT_USAGE, "-0 excludes -l and -s");
	if (o->mode == MATCH_FIXED && o->res != NULL)
		die(EXIT_USAGE, "-F and -r exclude each other");
	if (o->newest && o->oldest)
		die(EXIT_USAGE, "-n and -o exclude each other");
	if ((o->timeout >= 0 || o->kill) && !o->wait)
		die(EXIT_USAGE, "-t and -K need -w");
	if (o->npats == 0)
		die(EXIT_USAGE, "missing PATTERN");
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "signal", required_argument, NULL, 's' },
		{ "check", no_argument, NULL, '0' },
		{ "list", no_argument, NULL, 'l' },
		{ "echo", no_argument, NULL, 'e' },
		{ "fixed", no_argument, NULL, 'F' },
		{ "regex", no_argument, NULL, 'r' },
		{ "argv0", no_argument, NULL, 'a' },
		{ "user", required_argument, NULL, 'u' },
		{ "real-user", required_argument, NULL, 'U' },
		{ "all-users", no_argument, NULL, 'A' },
		{ "parent", required_argument, NULL, 'P' },
		{ "newest", no_argument, NULL, 'n' },
		{ "oldest", no_argument, NULL, 'o' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "kill", no_argument, NULL, 'K' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "count", no_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	int c, user_given = 0, regex = 0;
	long long v;

	memset(o, 0, sizeof(*o));
	o->sig = SIGTERM;
	/* Default: real and effective uid both the caller's real uid. The
	 * real uid alone would match a setuid program another user ran;
	 * the effective alone, `exec -a TITLE su` run by another user. */
	o->euid = o->ruid = getuid();
	o->by_euid = o->by_ruid = 1;
	o->ppid = -1;
	o->timeout = -1;
	if (leading_signal(argc, argv, &o->sig)) {
		o->sig_given = 1;
		optind = 2;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:0AacehFKlnoP:qrs:t:U:u:vVw",
	    longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CGROUP:
			o->cgroup = optarg;
			break;
		case OPT_JSON:
			if (o->out == OUT_COUNT)
				die(EXIT_USAGE, "-c and --json exclude each other");
			o->out = OUT_JSON;
			o->list = 1;
			break;
		case 'c':
			if (o->out == OUT_JSON)
				die(EXIT_USAGE, "-c and --json exclude each other");
			o->out = OUT_COUNT;
			o->list = 1;
			break;
		case 'v':
			msg_level = MSG_VERBOSE;
			break;
		case '0':
			o->check = 1;
			break;
		case 'A':
			o->all_users = 1;
			break;
		case 'a':
			o->argv0 = 1;
			break;
		case 'e':
			o->echo = 1;
			break;
		case 'F':
			o->mode = MATCH_FIXED;
			break;
		case 'h':
			usage(stdout);
			fputs(help_text, stdout);
			exit(0);
		case 'K':
			o->kill = 1;
			break;
		case 'l':
			o->list = 1;
			break;
		case 'n':
			o->newest = 1;
			break;
		case 'o':
			o->oldest = 1;
			break;
		case 'P':
			if (int_parse(optarg, 0, INT_MAX, &v) < 0)
				die(EXIT_USAGE, "bad parent pid '%s'", optarg);
			o->ppid = (pid_t)v;
			break;
		case 'q':
			msg_level = MSG_QUIET;
			break;
		case 'r':
			regex = 1;
			break;
		case 's':
			if (o->sig_given)
				die(EXIT_USAGE, "signal given twice");
			if (signal_parse(optarg, &o->sig) < 0)
				die(EXIT_USAGE, "unknown signal '%s'", optarg);
			o->sig_given = 1;
			break;
		case 't':
			if (duration_parse(optarg, &o->timeout) < 0)
				die(EXIT_USAGE, "bad timeout '%s'", optarg);
			break;
		case 'u':
			if (user_given != 'U')
				o->by_ruid = 0;
			o->by_euid = 1;
			o->euid = user_uid(optarg);
			user_given = 'u';
			break;
		case 'U':
			if (user_given != 'u')
				o->by_euid = 0;
			o->by_ruid = 1;
			o->ruid = user_uid(optarg);
			user_given = 'U';
			break;
		case 'V':
			msg_version();
		case 'w':
			o->wait = 1;
			break;
		default:
			die_badopt(c, argv);
		}
	}
	if (o->sig_given && o->sig == 0) {
		o->check = 1;
		o->sig_given = 0;
	}
	if (user_given && o->all_users)
		die(EXIT_USAGE, "-u/-U and -A exclude each other");
	if (regex && o->mode == MATCH_FIXED)
		die(EXIT_USAGE, "-F and -r exclude each other");
	if (regex)
		o->mode = MATCH_REGEX;
	o->pats = argv + optind;
	o->npats = argc - optind;
	check_options(o);
}

static void
compile_patterns(struct opts *o)
{
	char why[256];
	int i, rc;

	if (o->mode != MATCH_REGEX)
		return;
	o->res = msg_alloc(EXIT_FAIL, (size_t)o->npats, sizeof(*o->res));
	for (i = 0; i < o->npats; i++) {
		rc = regcomp(&o->res[i], o->pats[i], REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			regerror(rc, &o->res[i], why, sizeof(why));
			die(EXIT_USAGE, "bad regex '%s': %s", o->pats[i], why);
		}
	}
}

static void
free_patterns(struct opts *o)
{
	int i;

	if (o->res == NULL)
		return;
	for (i = 0; i < o->npats; i++)
		regfree(&o->res[i]);
	free(o->res);
	o->res = NULL;
}

/* Self and every ancestor up to the root of the tree: none of them may
 * ever be signalled (pkill -f famously kills the shell running it). */
static void
find_ancestors(struct scan *s)
{
	struct proc_info p;
	pid_t pid = getpid();
	size_t cap = 0;
	pid_t *nanc;

	while (pid > 0 && s->nanc < 4096) {
		if (s->nanc == cap) {
			cap = cap ? cap * 2 : 16;
			nanc = msg_realloc(EXIT_FAIL, s->anc, cap,
			    sizeof(*nanc));
			s->anc = nanc;
		}
		s->anc[s->nanc++] = pid;
		if (proc_read(pid, PROC_STAT, &p) < 0)
			break;
		proc_info_free(&p);
		pid = p.ppid;
	}
}

static int
is_ancestor(const struct scan *s, pid_t pid)
{
	size_t i;

	for (i = 0; i < s->nanc; i++)
		if (s->anc[i] == pid)
			return 1;
	return 0;
}

static int
title_matches(const struct opts *o, const struct proc_info *p)
{
	const char *subject = o->argv0 ? p->argv0 : p->title;
	int i;

	if (*subject == '\0')
		return 0;
	for (i = 0; i < o->npats; i++) {
		switch (o->mode) {
		case MATCH_FIXED:
			if (strcmp(subject, o->pats[i]) == 0)
				return 1;
			break;
		case MATCH_REGEX:
			if (regexec(&o->res[i], subject, 0, NULL, 0) == 0)
				return 1;
			break;
		default:
			if (fnmatch(o->pats[i], subject, 0) == 0)
				return 1;
		}
	}
	return 0;
}

/* p must carry PROC_IDS. */
static int
owner_matches(const struct opts *o, const struct proc_info *p)
{
	return o->all_users || ((!o->by_euid || p->euid == o->euid) &&
	    (!o->by_ruid || p->ruid == o->ruid));
}

/* Cheap pre-filter on the owner of /proc/PID, which is the effective
 * uid, or root for a process that is not dumpable (setuid programs): a
 * process failing it cannot match. */
static int
owner_may_match(const struct opts *o, const struct proc_info *p)
{
	return o->all_users || !o->by_euid || p->uid == o->euid ||
	    p->uid == 0;
}

/* Keep m in the table; with -n/-o the table holds the best one only. */
static void
keep(struct scan *s, const struct proc_info *p, uint64_t start)
{
	const struct opts *o = s->o;
	struct match *m, *nm;

	if ((o->newest || o->oldest) && s->n == 1) {
		m = &s->m[0];
		if (o->newest ? (start < m->start ||
		    (start == m->start && p->pid < m->pid)) :
		    (start > m->start ||
		    (start == m->start && p->pid > m->pid)))
			return;
		free(m->title);
		s->n = 0;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		nm = msg_realloc(EXIT_FAIL, s->m, s->cap, sizeof(*nm));
		s->m = nm;
	}
	m = &s->m[s->n];
	m->pid = p->pid;
	m->start = start;
	m->pidfd = -1;
	m->waitable = 0;
	m->title = msg_strdup(EXIT_FAIL, p->title);
	s->n++;
}

static int
cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* --cgroup: the members of the cgroup, read once before the scan (as
 * pgrep --cgroup, that cgroup itself, not the ones below it). */
static void
load_cgroup(struct opts *o)
{
	char dir[4096];

	if (o->cgroup == NULL)
		return;
	if (cgroup_resolve(o->cgroup, dir, sizeof(dir)) < 0)
		die(EXIT_USAGE, "no cgroup v2 '%s'", o->cgroup);
	if ((o->cg_n = cgroup_pids(dir, &o->cg_pids)) < 0)
		die(EXIT_FAIL, "cannot read %s/cgroup.procs:", dir);
}

static int
in_cgroup(const struct opts *o, pid_t pid)
{
	return o->cgroup == NULL || (o->cg_n > 0 && bsearch(&pid, o->cg_pids,
	    (size_t)o->cg_n, sizeof(pid), cmp_pid) != NULL);
}

static int
visit(const struct proc_info *p, void *arg)
{
	struct scan *s = arg;
	const struct opts *o = s->o;
	struct proc_info st;
	unsigned what;

	if (!in_cgroup(o, p->pid) || !owner_may_match(o, p) ||
	    p->title_len == 0 || is_ancestor(s, p->pid) ||
	    !title_matches(o, p))
		return 0;
	st.start = 0;
	what = (s->need_stat ? PROC_STAT : 0) | (o->all_users ? 0 : PROC_IDS);
	if (what != 0) {
		if (proc_read(p->pid, what, &st) < 0)
			return 0;
		proc_info_free(&st);
		if (!o->all_users && !owner_matches(o, &st))
			return 0;
		if (s->need_stat && (st.state == 'Z' ||
		    (o->ppid >= 0 && st.ppid != o->ppid)))
			return 0;
	}
	keep(s, p, st.start);
	return 0;
}

static void
scan(struct scan *s)
{
	const struct opts *o = s->o;

	s->need_stat = o->ppid >= 0 || o->newest || o->oldest;
	if (proc_scan(PROC_UID | PROC_TITLE, visit, s) < 0)
		die(EXIT_FAIL, "cannot read /proc:");
}

/* Output goes through a small buffer of our own rather than stdio:
 * printf's machinery alone adds a few hundred KiB of libc pages to the
 * peak RSS, which the design keeps at tini's level. */
static char outbuf[8192];
static size_t outlen;
static int outerr;		/* errno of a failed write, 0 if none */

static void
out_flush(void)
{
	if (outlen > 0 && !outerr && io_write_all(STDOUT_FILENO, outbuf,
	    outlen) < 0)
		outerr = errno;
	outlen = 0;
}

static void
out_char(char c)
{
	if (outlen == sizeof(outbuf))
		out_flush();
	outbuf[outlen++] = c;
}

static int out_mode;		/* OUT_* */
static size_t out_count;	/* matches printed (or counted) so far */

static void
out_str(const char *s)
{
	while (*s)
		out_char(*s++);
}

static void
out_num(unsigned long v)
{
	char digits[24];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (n > 0)
		out_char(digits[--n]);
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* A title as a JSON string: valid UTF-8 passes, control characters are
 * escaped, a byte that is not UTF-8 becomes U+FFFD. */
static void
out_json_string(const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *c = (const unsigned char *)str;
	size_t n;

	out_char('"');
	while (*c) {
		if (*c == '"' || *c == '\\') {
			out_char('\\');
			out_char((char)*c++);
		} else if (*c < 0x20 || *c == 0x7f) {
			out_str("\\u00");
			out_char(hex[*c >> 4]);
			out_char(hex[*c & 15]);
			c++;
		} else if ((n = utf8_len(c)) == 0) {
			out_str("\\ufffd");
			c++;
		} else {
			while (n-- > 0)
				out_char((char)*c++);
		}
	}
	out_char('"');
}

/* Titles may hold newlines and control bytes; one match is one line:
 * "PID TITLE", or with --json one {"pid": N, "title": "..."} object a
 * line inside a JSON array; -c only counts. */
static void
print_match(const struct match *m)
{
	const char *c;

	out_count++;
	switch (out_mode) {
	case OUT_COUNT:
		return;
	case OUT_JSON:
		out_str(out_count == 1 ? "[\n" : ",\n");
		out_str("{\"pid\": ");
		out_num((unsigned long)m->pid);
		out_str(", \"title\": ");
		out_json_string(m->title);
		out_char('}');
		return;
	}
	out_num((unsigned long)m->pid);
	out_char(' ');
	for (c = m->title; *c; c++)
		out_char(iscntrl((unsigned char)*c) ? '?' : *c);
	out_char('\n');
}

/* -v: one line per signal sent; control bytes of the title as '?', so
 * the line stays one line. */
static void
say_sent(int sig, const struct match *m)
{
	char name[32], title[256];
	size_t i;

	for (i = 0; i < sizeof(title) - 1 && m->title[i] != '\0'; i++)
		title[i] = iscntrl((unsigned char)m->title[i]) ? '?' :
		    m->title[i];
	title[i] = '\0';
	verbose("sent %s to %ld (%s)", signal_name(sig, name, sizeof(name)),
	    (long)m->pid, title);
}

/* Close what print_match opened: the JSON array, or the -c count. */
static void
print_end(void)
{
	if (out_mode == OUT_JSON)
		out_str(out_count == 0 ? "[]\n" : "\n]\n");
	else if (out_mode == OUT_COUNT) {
		out_num((unsigned long)out_count);
		out_char('\n');
	}
}

/* Pin m with a pidfd and read it again. PIN_OK: still a match;
 * PIN_GONE: it exited meanwhile (an empty title is a zombie's), which
 * still counts as a match; PIN_CHANGED: the PID now names a process that
 * does not match (recycled, or retitled). */
enum { PIN_OK, PIN_GONE, PIN_CHANGED };

static int
pin(struct scan *s, struct match *m)
{
	const struct opts *o = s->o;
	struct proc_info p;
	unsigned what = PROC_IDS | PROC_TITLE;
	int r;

	m->pidfd = proc_pidfd_open(m->pid);
	if (m->pidfd < 0 && errno != ENOSYS)
		return errno == ESRCH ? PIN_GONE : PIN_CHANGED;
	if (s->need_stat)
		what |= PROC_STAT;
	if (proc_read(m->pid, what, &p) < 0)
		return errno == ESRCH ? PIN_GONE : PIN_CHANGED;
	if (p.title_len == 0 || p.state == 'Z')
		r = PIN_GONE;
	else if (owner_matches(o, &p) && title_matches(o, &p) &&
	    (!s->need_stat || p.start == m->start))
		r = PIN_OK;
	else
		r = PIN_CHANGED;
	proc_info_free(&p);
	return r;
}

static void
unpin(struct match *m)
{
	if (m->pidfd >= 0)
		close(m->pidfd);
	m->pidfd = -1;
}

/* Pin, re-check and signal every match (signal 0 with -0 or a plain
 * -l: nothing is sent, the matches are only pinned for -w). Returns the
 * exit status so far; *hits counts matches that survived the re-check. */
static int
act(struct scan *s, size_t *hits)
{
	const struct opts *o = s->o;
	int sig = (o->check || (o->list && !o->sig_given)) ? 0 : o->sig;
	int status = EXIT_MATCH;
	struct match *m;
	size_t i;

	*hits = 0;
	for (i = 0; i < s->n; i++) {
		m = &s->m[i];
		switch (pin(s, m)) {
		case PIN_CHANGED:
			unpin(m);
			continue;
		case PIN_GONE:
			unpin(m);
			++*hits;
			continue;
		}
		++*hits;
		if (sig == 0) {
			if (o->list)
				print_match(m);
			m->waitable = 1;
			continue;
		}
		if (proc_pidfd_signal(m->pidfd, m->pid, sig) < 0) {
			if (errno != ESRCH) {
				notice("cannot signal %d:", (int)m->pid);
				status = EXIT_FAIL;
			}
			unpin(m);
			continue;
		}
		m->waitable = 1;
		if (o->list || o->echo)
			print_match(m);
		if (msg_level >= MSG_VERBOSE)
			say_sent(sig, m);
	}
	return status;
}

/* Wait for every signalled match to exit; at the timeout send KILL to
 * the survivors with -K. Returns EXIT_MATCH or EXIT_FAIL. */
static int
wait_gone(struct scan *s)
{
	const struct opts *o = s->o;
	int64_t until = o->timeout >= 0 ? clock_mono() + o->timeout : -1;
	char dur[32];
	int *fds;
	pid_t *pids, *bypid;
	size_t i, n = 0;
	int left;

	fds = msg_alloc(EXIT_FAIL, s->n, sizeof(*fds));
	pids = msg_alloc(EXIT_FAIL, s->n, sizeof(*pids));
	for (i = 0; i < s->n; i++) {
		if (!s->m[i].waitable)
			continue;
		/* proc_wait_gone closes what exited: it now owns the fd. */
		fds[n] = s->m[i].pidfd;
		pids[n] = s->m[i].pid;
		s->m[i].pidfd = -1;
		s->m[i].slot = n++;
	}
	/* Poll by pid only where the kernel gave no pidfd: an exited entry
	 * (fd -1) must not be confused with a recycled PID. */
	for (i = 0; i < n && fds[i] >= 0; i++)
		;
	bypid = i < n ? pids : NULL;
	left = proc_wait_gone(fds, bypid, n, until);
	if (left > 0 && o->kill) {
		for (i = 0; i < n; i++)
			if (fds[i] >= 0 || (bypid && !proc_gone(pids[i])))
				proc_pidfd_signal(fds[i], pids[i], SIGKILL);
		left = proc_wait_gone(fds, bypid, n,
		    clock_mono() + KILL_GRACE);
	}
	for (i = 0; left > 0 && i < s->n; i++) {
		struct match *m = &s->m[i];

		if (m->waitable && (fds[m->slot] >= 0 ||
		    (bypid && !proc_gone(m->pid))))
			notice("%d still running after %s", (int)m->pid,
			    duration_fmt(o->kill ? KILL_GRACE : o->timeout,
			    dur, sizeof(dur)));
	}
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	free(pids);
	return left == 0 ? EXIT_MATCH : EXIT_FAIL;
}

static void
cleanup(struct scan *s, struct opts *o)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		unpin(&s->m[i]);
		free(s->m[i].title);
	}
	free(s->m);
	free(s->anc);
	free(o->cg_pids);
	free_patterns(o);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct scan s = { 0 };
	size_t hits = 0, i;
	int status = EXIT_MATCH, w;

	msg_init(argv[0]);
	parse_args(argc, argv, &o);
	compile_patterns(&o);
	load_cgroup(&o);
	out_mode = o.out;
	s.o = &o;
	find_ancestors(&s);
	/* In a pid namespace whose /proc is the parent's, every pid read
	 * names a process we cannot signal: say so rather than match
	 * strangers and report success having done nothing. */
	if (proc_same_ns() == 0)
		die(EXIT_FAIL, "/proc belongs to another pid namespace "
		    "(mount this namespace's own /proc)");
	scan(&s);

	if (s.n == 0) {
		status = EXIT_NOMATCH;
	} else if ((o.check || o.list) && !o.sig_given && !o.wait) {
		/* A pure query: the scan is the answer, nothing is pinned. */
		hits = s.n;
		if (o.list)
			for (i = 0; i < s.n; i++)
				print_match(&s.m[i]);
	} else {
		status = act(&s, &hits);
		out_flush();
		if (o.wait && hits > 0 && (w = wait_gone(&s)) != EXIT_MATCH)
			status = w;
	}
	if (s.n > 0 && hits == 0)
		status = EXIT_NOMATCH;
	if (o.list || o.echo)
		print_end();
	cleanup(&s, &o);
	out_flush();
	if (outerr != 0 && outerr != EPIPE) {
		errno = outerr;
		die(EXIT_FAIL, "write error:");
	}
	return status;
}
