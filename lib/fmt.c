/* fmt: a small vsnprintf for the conversions pkit uses (see fmt.h).
 *
 * Why: glibc's vsnprintf runs its whole printf engine, whose code and
 * tables span several 64 KiB fault-around windows of libc; one call at
 * start-up maps them into the process for good. Formatting a path, a
 * worker's title or a log line here touches a page or two of our own.
 * What this does not know (a flag, conversion or length it does not
 * handle, a null %s) goes whole to the libc's vsnprintf, from the first
 * byte, so the output is the libc's in every case. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "fmt.h"

/* The libc's own, reached through --wrap. */
int __real_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

struct out {
	char *buf;
	size_t size;
	size_t n;		/* length of the whole output so far */
};

static void
put(struct out *o, const char *s, size_t len)
{
	size_t room;

	if (o->n + 1 < o->size) {
		room = o->size - 1 - o->n;
		memcpy(o->buf + o->n, s, len < room ? len : room);
	}
	o->n += len;
}

static void
pad(struct out *o, char c, size_t k)
{
	char b[32];
	size_t m;

	memset(b, c, sizeof(b));
	for (; k > 0; k -= m) {
		m = k < sizeof(b) ? k : sizeof(b);
		put(o, b, m);
	}
}

struct spec {
	int left, zero;
	size_t width;
	int prec;		/* -1: none */
	int len;		/* 'H' hh, 'h', 0, 'l', 'L' ll, 'z', 'j', 't' */
};

/* An integer: sign, precision zeros, digits, padded to the width. */
static void
put_int(struct out *o, const struct spec *sp, uintmax_t v, int neg,
    unsigned base, int upper)
{
	const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char d[3 * sizeof(uintmax_t)];
	size_t nd = 0, zeros = 0, total, fill;

	do {
		d[sizeof(d) - 1 - nd++] = dig[v % base];
		v /= base;
	} while (v != 0);
	if (sp->prec == 0 && nd == 1 && d[sizeof(d) - 1] == '0')
		nd = 0;		/* "%.0d" of 0: no digit at all */
	if (sp->prec >= 0 && (size_t)sp->prec > nd)
		zeros = (size_t)sp->prec - nd;
	total = (neg ? 1 : 0) + zeros + nd;
	fill = sp->width > total ? sp->width - total : 0;
	if (fill > 0 && !sp->left && !(sp->zero && sp->prec < 0))
		pad(o, ' ', fill);
	if (neg)
		put(o, "-", 1);
	if (fill > 0 && !sp->left && sp->zero && sp->prec < 0)
		pad(o, '0', fill);
	pad(o, '0', zeros);
	put(o, d + sizeof(d) - nd, nd);
	if (fill > 0 && sp->left)
		pad(o, ' ', fill);
}

static void
put_str(struct out *o, const struct spec *sp, const char *s, size_t len)
{
	size_t fill = sp->width > len ? sp->width - len : 0;

	if (!sp->left)
		pad(o, ' ', fill);
	put(o, s, len);
	if (sp->left)
		pad(o, ' ', fill);
}

/* Parse a number of digits at *f (at most INT_MAX); -1 if it is larger. */
static int
digits(const char **f)
{
	long long v = 0;

	for (; **f >= '0' && **f <= '9'; (*f)++) {
		v = v * 10 + (**f - '0');
		if (v > INT_MAX)
			return -1;
	}
	return (int)v;
}

/* One conversion, *f just past its '%'. Returns 0, or -1 for one this
 * file does not handle (the caller then hands the whole call over). */
static int
convert(struct out *o, const char **f, va_list *ap)
{
	struct spec sp = { 0, 0, 0, -1, 0 };
	const char *s;
	uintmax_t u;
	intmax_t v;
	int w;
	char c;

	for (;; (*f)++) {
		if (**f == '-')
			sp.left = 1;
		else if (**f == '0')
			sp.zero = 1;
		else
			break;
	}
	if (**f == '*') {
		(*f)++;
		w = va_arg(*ap, int);
		if (w < 0) {
			if (w == INT_MIN)
				return -1;
			sp.left = 1;
			w = -w;
		}
		sp.width = (size_t)w;
	} else {
		if ((w = digits(f)) < 0 || **f == '$')
			return -1;
		sp.width = (size_t)w;
	}
	if (**f == '.') {
		(*f)++;
		if (**f == '*') {
			(*f)++;
			sp.prec = va_arg(*ap, int);
			if (sp.prec < 0)
				sp.prec = -1;
		} else if ((sp.prec = digits(f)) < 0) {
			return -1;
		}
	}
	switch (**f) {
	case 'h':
		sp.len = (*f)[1] == 'h' ? 'H' : 'h';
		break;
	case 'l':
		sp.len = (*f)[1] == 'l' ? 'L' : 'l';
		break;
	case 'z': case 'j': case 't':
		sp.len = **f;
		break;
	}
	if (sp.len != 0)
		*f += sp.len == 'H' || sp.len == 'L' ? 2 : 1;
	c = *(*f)++;
	switch (c) {
	case 'd': case 'i':
		switch (sp.len) {
		case 'H': v = (signed char)va_arg(*ap, int); break;
		case 'h': v = (short)va_arg(*ap, int); break;
		case 'l': v = va_arg(*ap, long); break;
		case 'L': v = va_arg(*ap, long long); break;
		case 'z': v = va_arg(*ap, ssize_t); break;
		case 'j': v = va_arg(*ap, intmax_t); break;
		case 't': v = va_arg(*ap, ptrdiff_t); break;
		default: v = va_arg(*ap, int); break;
		}
		u = v < 0 ? -(uintmax_t)v : (uintmax_t)v;
		put_int(o, &sp, u, v < 0, 10, 0);
		return 0;
	case 'u': case 'x': case 'X': case 'o':
		switch (sp.len) {
		case 'H': u = (unsigned char)va_arg(*ap, unsigned); break;
		case 'h': u = (unsigned short)va_arg(*ap, unsigned); break;
		case 'l': u = va_arg(*ap, unsigned long); break;
		case 'L': u = va_arg(*ap, unsigned long long); break;
		case 'z': u = va_arg(*ap, size_t); break;
		case 'j': u = va_arg(*ap, uintmax_t); break;
		case 't': u = (uintmax_t)(size_t)va_arg(*ap, ptrdiff_t); break;
		default: u = va_arg(*ap, unsigned); break;
		}
		put_int(o, &sp, u, 0, c == 'u' ? 10 : c == 'o' ? 8 : 16,
		    c == 'X');
		return 0;
	case 'c':
		if (sp.len != 0 || sp.zero)
			return -1;
		c = (char)va_arg(*ap, int);
		put_str(o, &sp, &c, 1);
		return 0;
	case 's':
		if (sp.len != 0 || sp.zero)
			return -1;
		if ((s = va_arg(*ap, const char *)) == NULL)
			return -1;
		put_str(o, &sp, s, sp.prec < 0 ? strlen(s) :
		    strnlen(s, (size_t)sp.prec));
		return 0;
	default:
		return -1;
	}
}

int
fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };
	const char *f = fmt, *pct;
	va_list aq;
	int r = 0;

	va_copy(aq, ap);
	while (*f != '\0') {
		if ((pct = strchr(f, '%')) == NULL) {
			put(&o, f, strlen(f));
			break;
		}
		put(&o, f, (size_t)(pct - f));
		f = pct + 1;
		if (*f == '%') {
			put(&o, "%", 1);
			f++;
		} else if (convert(&o, &f, &aq) < 0) {
			r = -1;
			break;
		}
	}
	va_end(aq);
	if (r < 0)
		return __real_vsnprintf(buf, size, fmt, ap);
	if (size > 0)
		buf[o.n < size - 1 ? o.n : size - 1] = '\0';
	if (o.n > INT_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	return (int)o.n;
}

int
__wrap_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	return fmt_vsnprintf(buf, size, fmt, ap);
}

int
__wrap_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int
__wrap_sprintf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(buf, SIZE_MAX, fmt, ap);
	va_end(ap);
	return n;
}

int
__wrap_vasprintf(char **out, const char *fmt, va_list ap)
{
	va_list aq;
	char *p;
	int n;

	va_copy(aq, ap);
	n = fmt_vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || (p = malloc((size_t)n + 1)) == NULL)
		return -1;
	fmt_vsnprintf(p, (size_t)n + 1, fmt, ap);
	*out = p;
	return n;
}
