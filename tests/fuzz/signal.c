/* fuzz signal_parse and signal_name (lib/parse): a parsed signal's name
 * parses back to the same number. */
#include <errno.h>
#include <signal.h>

#include "fuzz.h"
#include "parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), name[32], tiny[3];
	int sig = -7, back = -7, v;

	if (signal_parse(s, &sig) == 0) {
		FUZZ_CHECK(sig >= 0 && sig <= SIGRTMAX);
		signal_name(sig, name, sizeof(name));
		FUZZ_CHECK(signal_parse(name, &back) == 0);
		FUZZ_CHECK(back == sig);
	} else {
		FUZZ_CHECK(errno == EINVAL || errno == ERANGE);
		FUZZ_CHECK(sig == -7);
	}
	if (size >= sizeof(v)) {
		memcpy(&v, data, sizeof(v));
		signal_name(v, name, sizeof(name));
		FUZZ_CHECK(memchr(name, '\0', sizeof(name)) != NULL);
		signal_name(v, tiny, sizeof(tiny));
		FUZZ_CHECK(memchr(tiny, '\0', sizeof(tiny)) != NULL);
	}
	free(s);
	return 0;
}
