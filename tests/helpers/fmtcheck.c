/* fmtcheck: lib/fmt's vsnprintf against the libc's (tests/fmt.bats).
 *
 *   fmtcheck [N]   every combination of flag, width, precision, length
 *                  and conversion fmt handles, each with a set of edge
 *                  values and N (default 20) pseudo-random ones, every
 *                  output cut at several buffer sizes; then the forms
 *                  fmt hands over to the libc (%p %g %+d %#x %m "%1$s",
 *                  a null %s, ...). Prints one line per difference (the
 *                  format, both outputs, both return values) and a last
 *                  line "N checked, N differ"; exits 1 if any differ.
 *
 * The helper is linked like the programs (-Wl,--wrap=vsnprintf...), so
 * the libc's own is __real_vsnprintf. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"

int __real_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* The formats are built at run time, and some are ones the compiler
 * rightly warns about: checking them is the point. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat"

static unsigned long checked, differ;

static const size_t sizes[] = { 0, 1, 2, 5, 17, 300 };

/* Run both on one argument list (taken twice by the caller). */
static void
cmp(const char *fmt, int dummy, ...)
{
	char a[300], b[300];
	va_list ap, aq;
	int ra, rb, ea, eb;
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(a, 'A', sizeof(a));
		memset(b, 'A', sizeof(b));
		va_start(ap, dummy);
		va_copy(aq, ap);
		errno = 0;
		ra = fmt_vsnprintf(sizes[i] ? a : NULL, sizes[i], fmt, ap);
		ea = errno;
		errno = 0;
		rb = __real_vsnprintf(sizes[i] ? b : NULL, sizes[i], fmt, aq);
		eb = errno;
		va_end(aq);
		va_end(ap);
		checked++;
		if (ra != rb || memcmp(a, b, sizeof(a)) != 0 ||
		    (ra < 0 && ea != eb)) {
			differ++;
			printf("differ: \"%s\" size %zu: fmt %d \"%.*s\", "
			    "libc %d \"%.*s\"\n", fmt, sizes[i], ra,
			    (int)sizes[i], a, rb, (int)sizes[i], b);
		}
	}
}

/* A 64-bit pseudo-random value (xorshift, fixed seed: reproducible). */
static uint64_t
rnd(void)
{
	static uint64_t x = 0x9e3779b97f4a7c15ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static const long long edges[] = {
	0, 1, -1, 7, -7, 9, 10, 255, 256, -128, -129, 65535, 65536, -32768,
	INT_MAX, INT_MIN, UINT_MAX, LONG_MAX, LONG_MIN, LLONG_MAX, LLONG_MIN,
	0x7f, 0x80, 1000000007, -1000000007,
};

/* One integer conversion with value v passed as its length's type. */
static void
one_int(const char *fmt, const char *len, int star_w, int star_p, int w,
    int p, long long v)
{
	/* The '*' arguments come first, then the value; pass every form
	 * the same way (int, int, value) by building the call per length. */
#define CALL(T) do { \
	if (star_w && star_p) cmp(fmt, 0, w, p, (T)v); \
	else if (star_w) cmp(fmt, 0, w, (T)v); \
	else if (star_p) cmp(fmt, 0, p, (T)v); \
	else cmp(fmt, 0, (T)v); \
} while (0)
	if (strcmp(len, "ll") == 0 || strcmp(len, "j") == 0)
		CALL(long long);
	else if (strcmp(len, "l") == 0 || strcmp(len, "z") == 0 ||
	    strcmp(len, "t") == 0)
		CALL(long);
	else
		CALL(int);
#undef CALL
}

static void
ints(int n)
{
	static const char *flags[] = { "", "-", "0", "-0", "0-" };
	static const char *widths[] = { "", "1", "5", "25", "*" };
	static const char *precs[] = { "", ".", ".0", ".3", ".12", ".*" };
	static const char *lens[] = { "hh", "h", "", "l", "ll", "z", "j",
	    "t" };
	static const char *convs = "diuxXo";
	static const int stars[] = { 0, 3, -3, 30, -30, 1 };
	char fmt[64];
	size_t f, w, p, l, c, e, s;
	int k;

	for (f = 0; f < 5; f++)
	for (w = 0; w < 5; w++)
	for (p = 0; p < 6; p++)
	for (l = 0; l < 8; l++)
	for (c = 0; convs[c]; c++) {
		snprintf(fmt, sizeof(fmt), "<%%%s%s%s%s%c>", flags[f],
		    widths[w], precs[p], lens[l], convs[c]);
		for (s = 0; s < sizeof(stars) / sizeof(stars[0]); s++)
		for (e = 0; e < sizeof(edges) / sizeof(edges[0]); e++)
			one_int(fmt, lens[l], w == 4, p == 5, stars[s],
			    stars[(s + 2) % 6], edges[e]);
		for (k = 0; k < n; k++)
			one_int(fmt, lens[l], w == 4, p == 5,
			    (int)(rnd() % 40) - 10, (int)(rnd() % 30) - 5,
			    (long long)rnd() >> (rnd() % 64));
	}
}

static void
strs(void)
{
	static const char *flags[] = { "", "-" };
	static const char *widths[] = { "", "1", "5", "40", "*" };
	static const char *precs[] = { "", ".", ".0", ".3", ".50", ".*" };
	static const char *vals[] = { "", "a", "hello", "a long string of "
	    "some sixty bytes, to be cut at the small sizes" };
	char fmt[64];
	size_t f, w, p, v;
	int k;

	for (f = 0; f < 2; f++)
	for (w = 0; w < 5; w++)
	for (p = 0; p < 6; p++) {
		snprintf(fmt, sizeof(fmt), "x%%%s%s%ssy", flags[f], widths[w],
		    precs[p]);
		for (v = 0; v < 4; v++)
			for (k = -7; k <= 7; k += 7) {
				if (w == 4 && p == 5)
					cmp(fmt, 0, k, k + 3, vals[v]);
				else if (w == 4 || p == 5)
					cmp(fmt, 0, k, vals[v]);
				else
					cmp(fmt, 0, vals[v]);
			}
		snprintf(fmt, sizeof(fmt), "x%%%s%sc", flags[f],
		    w == 4 ? "7" : widths[w]);
		cmp(fmt, 0, 'q');
		cmp(fmt, 0, 0);
		cmp(fmt, 0, 0xe9);
	}
}

/* What fmt hands over, and mixed formats as pkit writes them. */
static void
others(void)
{
	int x = 5;

	cmp("plain text, no conversion", 0);
	cmp("", 0);
	cmp("100%% done %%%d", 0, 7);
	cmp("%s/%s.%ld", 0, "/sys/fs/cgroup", "palarm", 123456L);
	cmp("worker %d (pid %ld) %s%s", 0, 3, 4242L, "exited 1", "; again");
	cmp("%s-%d", 0, "title", 12);
	cmp("%016llx.seg", 0, 0x1234abcdULL);
	cmp("%p", 0, (void *)&x);
	cmp("%p", 0, (void *)NULL);
	cmp("%g s", 0, 1.5);
	cmp("%.3f", 0, 2.0 / 3);
	cmp("%+d % d %#x %#o", 0, 5, 5, 255, 8);
	cmp("%5%|", 0);
	cmp("%-5%|", 0);
	cmp("%1$s %1$s", 0, "pos");
	cmp("a %s b", 0, (char *)NULL);
	cmp("a %.3s b", 0, (char *)NULL);
	cmp("%ls", 0, L"wide");
	cmp("%lc", 0, (int)L'w');
	cmp("%Lf", 0, (long double)1.25);
	cmp("%qd", 0, 5LL);
	cmp("%05s|%05c", 0, "ab", 'c');
	cmp("%*d|%-*d", 0, INT_MAX / 2, 1, 3, 2);
	cmp("%.*d", 0, -5, 42);
	cmp("%hhd %hhu %hd %hu", 0, 300, 300, 70000, 70000);
	cmp("trailing %", 0);
	cmp("trailing %-", 0);
	cmp("trailing %5", 0);
	cmp("trailing %l", 0);
	cmp("%zu %zd %zx", 0, (size_t)-1, (size_t)-1, (size_t)-1);
	cmp("%td %tu", 0, (ptrdiff_t)-5, (ptrdiff_t)-5);
	errno = ENOENT;
	cmp("%m", 0);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20;

	ints(n);
	strs();
	others();
	printf("%lu checked, %lu differ\n", checked, differ);
	return differ != 0;
}
