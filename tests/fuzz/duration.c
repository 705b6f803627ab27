/* fuzz duration_parse and duration_fmt (lib/parse). */
#include <ctype.h>
#include <errno.h>

#include "fuzz.h"
#include "parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), buf[64], tiny[4];
	int64_t ns = -12345, v;
	size_t i;
	int r, all_digits = s[0] != '\0';

	r = duration_parse(s, &ns);
	if (r == 0) {
		FUZZ_CHECK(ns >= 0);
		/* A duration starts with a digit or a '.', as DESIGN §2 says. */
		FUZZ_CHECK(isdigit((unsigned char)s[0]) || s[0] == '.');
		duration_fmt(ns, buf, sizeof(buf));
		FUZZ_CHECK(memchr(buf, '\0', sizeof(buf)) != NULL);
		duration_fmt(ns, tiny, sizeof(tiny));
		FUZZ_CHECK(memchr(tiny, '\0', sizeof(tiny)) != NULL);
	} else {
		FUZZ_CHECK(r == -1);
		FUZZ_CHECK(errno == EINVAL || errno == ERANGE);
		FUZZ_CHECK(ns == -12345);	/* untouched on failure */
	}
	/* Malformed beats too large: a unit no table has is EINVAL. */
	if (r < 0 && strpbrk(s, "xyz") != NULL)
		FUZZ_CHECK(errno == EINVAL);
	/* A bare number is seconds, exactly. */
	for (i = 0; s[i] != '\0'; i++)
		if (!isdigit((unsigned char)s[i]))
			all_digits = 0;
	if (all_digits && i <= 9) {
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(ns == strtoll(s, NULL, 10) * 1000000000LL);
	}
	/* duration_fmt on any value, the first 8 bytes as an int64. */
	if (size >= 8) {
		memcpy(&v, data, sizeof(v));
		duration_fmt(v, buf, sizeof(buf));
		FUZZ_CHECK(memchr(buf, '\0', sizeof(buf)) != NULL);
	}
	free(s);
	return 0;
}
