/* parse: durations, signals, integers, sizes and users, as DESIGN §2 says. */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

/* ASCII by hand, not <ctype.h>: the same in the C locale (pkit never
 * sets another), and the locale's tables stay out of the resident set. */
static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
fail(int err)
{
	errno = err;
	return -1;
}

static const struct {
	const char *name;
	int64_t ns;
} units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "ms", 1000000 },
	{ "s", 1000000000LL },
	{ "m", 60 * 1000000000LL },
	{ "h", 3600 * 1000000000LL },
	{ "d", 86400 * 1000000000LL },
	{ "", 1000000000LL },
};

int
duration_parse(const char *s, int64_t *ns)
{
	int64_t whole = 0, unit = 0, total;
	long double frac = 0, scale = 1;
	int digits = 0, over = 0;
	size_t i;

	if (s == NULL)
		return fail(EINVAL);
	for (; is_digit(*s); s++, digits++) {
		if (whole > (INT64_MAX - (*s - '0')) / 10)
			over = 1;
		else
			whole = whole * 10 + (*s - '0');
	}
	if (*s == '.') {
		for (s++; is_digit(*s); s++, digits++) {
			scale /= 10;
			frac += (*s - '0') * scale;
		}
	}
	if (digits == 0)
		return fail(EINVAL);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(s, units[i].name) == 0) {
			unit = units[i].ns;
			break;
		}
	if (unit == 0)
		return fail(EINVAL);
	if (over || whole > INT64_MAX / unit)
		return fail(ERANGE);
	total = whole * unit;
	frac = frac * unit + 0.5L;
	if (frac >= (long double)INT64_MAX ||
	    (int64_t)frac > INT64_MAX - total)
		return fail(ERANGE);
	*ns = total + (int64_t)frac;
	return 0;
}

const char *
duration_fmt(int64_t ns, char *buf, size_t size)
{
	if (ns % 1000000000LL == 0 && ns >= 120 * 1000000000LL &&
	    ns % (60 * 1000000000LL) == 0)
		snprintf(buf, size, "%lldm", (long long)(ns / 60000000000LL));
	else if (ns >= 1000000000LL)
		snprintf(buf, size, "%g" "s", (double)ns / 1e9);
	else if (ns >= 1000000)
		snprintf(buf, size, "%g" "ms", (double)ns / 1e6);
	else if (ns >= 1000)
		snprintf(buf, size, "%g" "us", (double)ns / 1e3);
	else
		snprintf(buf, size, "%lldns", (long long)ns);
	return buf;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
	{ "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
#ifdef SIGSTKFLT
	{ "STKFLT", SIGSTKFLT },
#endif
	{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
	{ "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
	{ "IO", SIGIO },
#ifdef SIGPWR
	{ "PWR", SIGPWR },
#endif
	{ "SYS", SIGSYS },
	/* Aliases come last so signal_name prefers the names above. */
	{ "IOT", SIGABRT }, { "CLD", SIGCHLD }, { "POLL", SIGIO },
};

/* Unsigned decimal magnitude in [0, max] with no sign, no blanks, no
 * garbage. Malformed text is EINVAL even when its digits overflow. */
static int
mag_parse(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	int over = 0;

	if (!is_digit(*s))
		return fail(EINVAL);
	for (; is_digit(*s); s++) {
		if (v > (max - (unsigned)(*s - '0')) / 10)
			over = 1;
		else
			v = v * 10 + (unsigned)(*s - '0');
	}
	if (*s != '\0')
		return fail(EINVAL);
	if (over)
		return fail(ERANGE);
	*out = v;
	return 0;
}

static int
uint_parse(const char *s, long long max, long long *out)
{
	unsigned long long v;

	if (mag_parse(s, (unsigned long long)max, &v) < 0)
		return -1;
	*out = (long long)v;
	return 0;
}

int
signal_parse(const char *s, int *sig)
{
	long long n;
	size_t i;

	if (s == NULL || *s == '\0')
		return fail(EINVAL);
	if (is_digit(*s)) {
		if (uint_parse(s, SIGRTMAX, &n) < 0)
			return fail(EINVAL);
		*sig = (int)n;
		return 0;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(s, signals[i].name) == 0) {
			*sig = signals[i].sig;
			return 0;
		}
	if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
		int max = s[3] == 'A' || s[3] == 'a';
		const char *r = s + 5;

		n = 0;
		if (*r != '\0') {
			if (*r != (max ? '-' : '+'))
				return fail(EINVAL);
			if (uint_parse(r + 1, SIGRTMAX - SIGRTMIN, &n) < 0)
				return fail(EINVAL);
		}
		*sig = max ? SIGRTMAX - (int)n : SIGRTMIN + (int)n;
		return 0;
	}
	return fail(EINVAL);
}

const char *
signal_name(int sig, char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].sig == sig) {
			snprintf(buf, size, "%s", signals[i].name);
			return buf;
		}
	if (sig == SIGRTMIN)
		snprintf(buf, size, "RTMIN");
	else if (sig == SIGRTMAX)
		snprintf(buf, size, "RTMAX");
	else if (sig > SIGRTMIN && sig - SIGRTMIN <= (SIGRTMAX - SIGRTMIN) / 2)
		snprintf(buf, size, "RTMIN+%d", sig - SIGRTMIN);
	else if (sig > SIGRTMIN && sig < SIGRTMAX)
		snprintf(buf, size, "RTMAX-%d", SIGRTMAX - sig);
	else
		snprintf(buf, size, "%d", sig);
	return buf;
}

int
int_parse(const char *s, long long min, long long max, long long *out)
{
	unsigned long long mag;
	long long v;
	int neg;

	if (s == NULL)
		return fail(EINVAL);
	neg = *s == '-';
	/* A negative magnitude reaches LLONG_MAX + 1, for LLONG_MIN. */
	if (mag_parse(s + neg, neg ? (unsigned long long)LLONG_MAX + 1 :
	    (unsigned long long)LLONG_MAX, &mag) < 0)
		return -1;
	if (!neg)
		v = (long long)mag;
	else if (mag == (unsigned long long)LLONG_MAX + 1)
		v = LLONG_MIN;
	else
		v = -(long long)mag;
	if (v < min || v > max)
		return fail(ERANGE);
	*out = v;
	return 0;
}

int
size_parse(const char *s, uint64_t *out)
{
	static const char mult[] = "kmgt";
	uint64_t v = 0, m = 1;
	const char *p;
	int over = 0;

	if (s == NULL || !is_digit(*s))
		return fail(EINVAL);
	for (; is_digit(*s); s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			over = 1;
		else
			v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s != '\0' && (p = strchr(mult, *s >= 'A' && *s <= 'Z' ?
	    *s - 'A' + 'a' : *s))) {
		m = (uint64_t)1 << (10 * (p - mult + 1));
		s++;
		if (strcasecmp(s, "iB") == 0 || strcasecmp(s, "B") == 0)
			s += strlen(s);
	} else if (strcasecmp(s, "B") == 0)
		s++;
	if (*s != '\0')
		return fail(EINVAL);
	if (over || v > UINT64_MAX / m)
		return fail(ERANGE);
	*out = v * m;
	return 0;
}

static int
id_parse(const char *s, long long *id)
{
	return uint_parse(s, (long long)(unsigned)-1 - 1, id);
}

int
user_parse(const char *s, struct user_spec *u)
{
	char user[256];
	const char *colon, *group = NULL;
	struct passwd *pw;
	struct group *gr;
	struct user_spec r;
	long long id;
	size_t n;

	if (s == NULL || *s == '\0')
		return fail(EINVAL);
	memset(&r, 0, sizeof(r));
	colon = strchr(s, ':');
	n = colon ? (size_t)(colon - s) : strlen(s);
	if (n == 0 || n >= sizeof(user))
		return fail(EINVAL);
	memcpy(user, s, n);
	user[n] = '\0';
	if (colon) {
		group = colon + 1;
		if (*group == '\0')
			return fail(EINVAL);
	}

	errno = 0;
	if (id_parse(user, &id) == 0) {
		r.uid = (uid_t)id;
		pw = getpwuid(r.uid);
		r.gid = pw ? pw->pw_gid : (gid_t)id;
	} else {
		pw = getpwnam(user);
		if (pw == NULL)
			return fail(EINVAL);
		r.uid = pw->pw_uid;
		r.gid = pw->pw_gid;
	}
	if (pw != NULL && strlen(pw->pw_name) < sizeof(r.name))
		memcpy(r.name, pw->pw_name, strlen(pw->pw_name) + 1);

	if (group != NULL) {
		r.has_group = 1;
		if (id_parse(group, &id) == 0)
			r.gid = (gid_t)id;
		else if ((gr = getgrnam(group)) != NULL)
			r.gid = gr->gr_gid;
		else
			return fail(EINVAL);
	}
	*u = r;
	return 0;
}
