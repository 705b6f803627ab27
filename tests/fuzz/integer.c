/* fuzz int_parse (lib/parse) against a plain model: the first byte picks
 * the range, the rest is the string. Valid is -?[0-9]+; EINVAL for any
 * other syntax, ERANGE for a value outside [min, max]. */
#include <errno.h>
#include <limits.h>

#include "fuzz.h"
#include "parse.h"

static const long long bounds[][2] = {
	{ 0, LLONG_MAX }, { 1, 65535 }, { LLONG_MIN, LLONG_MAX },
	{ -1, 1 }, { 0, 0 }, { -100, -10 }, { 1, INT_MAX },
	{ LLONG_MIN, 0 },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const long long *b;
	char *s;
	const char *d;
	long long v = 42;
	fuzz_i128 model = 0;
	int r, syntax = 1, big = 0;

	if (size < 1)
		return 0;
	b = bounds[data[0] % (sizeof(bounds) / sizeof(bounds[0]))];
	s = fuzz_str(data + 1, size - 1);
	d = s[0] == '-' ? s + 1 : s;
	if (*d == '\0')
		syntax = 0;
	for (; *d != '\0'; d++) {
		if (*d < '0' || *d > '9') {
			syntax = 0;
			break;
		}
		model = model * 10 + (*d - '0');
		if (model > (fuzz_i128)1 << 64)
			big = 1, model = (fuzz_i128)1 << 64;
	}
	if (s[0] == '-')
		model = -model;
	r = int_parse(s, b[0], b[1], &v);
	if (!syntax) {
		FUZZ_CHECK(r == -1 && errno == EINVAL);
	} else if (big || model < b[0] || model > b[1]) {
		FUZZ_CHECK(r == -1 && errno == ERANGE);
	} else {
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(v == (long long)model);
	}
	if (r < 0)
		FUZZ_CHECK(v == 42);
	free(s);
	return 0;
}
