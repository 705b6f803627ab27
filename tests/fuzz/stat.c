/* fuzz the /proc parsers of lib/proc: parse_stat (a /proc/PID/stat line)
 * and make_title (cmdline bytes to a title). Both are static in
 * lib/proc.c, so this target includes that file whole rather than
 * linking it. Byte 0 picks the parser. */
#include "fuzz.h"
#include "../../lib/proc.c"

static void
fuzz_stat(const uint8_t *data, size_t size)
{
	struct proc_info p;
	char buf[1024];

	/* read_stat reads at most 1023 bytes and NUL-terminates them. */
	if (size > sizeof(buf) - 1)
		size = sizeof(buf) - 1;
	memcpy(buf, data, size);
	buf[size] = '\0';
	memset(&p, 0, sizeof(p));
	if (parse_stat(buf, &p) == 0) {
		FUZZ_CHECK(memchr(p.comm, '\0', sizeof(p.comm)) != NULL);
		FUZZ_CHECK(strchr(buf, '(') != NULL && strrchr(buf, ')') != NULL);
	} else {
		FUZZ_CHECK(errno == EINVAL);
	}
}

static void
fuzz_title(const uint8_t *data, size_t size)
{
	struct reader r = { 0 };
	struct proc_info p;
	size_t i;

	/* read_cmdline leaves the bytes NUL-terminated in r.raw. */
	FUZZ_CHECK(grow(&r.raw, &r.rawcap, size + 1) == 0);
	memcpy(r.raw, data, size);
	r.raw[size] = '\0';
	memset(&p, 0, sizeof(p));
	FUZZ_CHECK(make_title(&r, size, &p) == 0);
	FUZZ_CHECK(p.title_len <= size);
	FUZZ_CHECK(p.title[p.title_len] == '\0');
	for (i = 0; i < p.title_len; i++) {
		FUZZ_CHECK(p.title[i] != '\0');
		FUZZ_CHECK((unsigned char)p.title[i] == data[i] || data[i] == 0);
	}
	if (p.title_len > 0)
		FUZZ_CHECK(p.title[p.title_len - 1] != ' ');
	FUZZ_CHECK(strcmp(p.argv0, (const char *)r.raw) == 0);
	free(r.raw);
	free(r.title);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_title(data + 1, size - 1);
	else
		fuzz_stat(data + 1, size - 1);
	return 0;
}
