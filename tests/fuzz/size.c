/* fuzz size_parse (lib/parse) against a plain model of its grammar:
 * DIGITS [k|m|g|t [iB|B]] or DIGITS [B], letters in any case. */
#include <ctype.h>
#include <errno.h>
#include <strings.h>

#include "fuzz.h"
#include "parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	const char *p = s, *m;
	fuzz_u128 v = 0;
	uint64_t out = 7;
	int shift = 0, syntax = 1, big = 0, r;

	if (!isdigit((unsigned char)*p))
		syntax = 0;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > (fuzz_u128)UINT64_MAX)
			big = 1, v = (fuzz_u128)UINT64_MAX + 1;
	}
	if (*p != '\0' && (m = strchr("kmgt", tolower((unsigned char)*p)))) {
		shift = 10 * (int)(m - "kmgt" + 1);
		p++;
		if (strcasecmp(p, "iB") == 0 || strcasecmp(p, "B") == 0)
			p += strlen(p);
	} else if (strcasecmp(p, "B") == 0) {
		p++;
	}
	if (*p != '\0')
		syntax = 0;
	r = size_parse(s, &out);
	if (!syntax) {
		FUZZ_CHECK(r == -1 && errno == EINVAL);
	} else if (big || (v << shift) > (fuzz_u128)UINT64_MAX) {
		FUZZ_CHECK(r == -1 && errno == ERANGE);
	} else {
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(out == (uint64_t)(v << shift));
	}
	if (r < 0)
		FUZZ_CHECK(out == 7);
	free(s);
	return 0;
}
