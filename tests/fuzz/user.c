/* fuzz user_parse (lib/parse): USER[:GROUP], names or numeric ids. */
#include <errno.h>

#include "fuzz.h"
#include "parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct user_spec u;
	char *s;

	if (size > 600)		/* NSS lookups are slow; long names add nothing */
		return 0;
	s = fuzz_str(data, size);
	memset(&u, 0xa5, sizeof(u));
	if (user_parse(s, &u) == 0) {
		FUZZ_CHECK(memchr(u.name, '\0', sizeof(u.name)) != NULL);
		FUZZ_CHECK(u.has_group == (strchr(s, ':') != NULL));
		FUZZ_CHECK(s[0] != '\0' && s[0] != ':');
	} else {
		FUZZ_CHECK(errno == EINVAL || errno == ERANGE);
	}
	free(s);
	return 0;
}
