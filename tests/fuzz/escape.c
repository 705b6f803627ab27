/* fuzz msg_escape (lib/msg), the quoting of diagnostics: the output has
 * no control character, fits, and unescapes to the input (or, when cut,
 * to a prefix of it). Byte 0 is the output size minus one. */
#include "fuzz.h"
#include "msg.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *src;
	char *dst, *back;
	size_t dsize, n, o, i, j;

	if (size < 1)
		return 0;
	dsize = (size_t)data[0] + 1;
	if (data[0] == 255)
		dsize = 4 * size + 1;	/* room for everything */
	src = (const char *)data + 1;
	n = size - 1;
	dst = malloc(dsize);
	back = malloc(n + 1);
	FUZZ_CHECK(dst != NULL && back != NULL);
	o = msg_escape(dst, dsize, src, n);
	FUZZ_CHECK(o < dsize);
	FUZZ_CHECK(dst[o] == '\0');
	for (i = j = 0; i < o; j++) {
		unsigned char c = (unsigned char)dst[i];

		FUZZ_CHECK(c >= 0x20 && c != 0x7f);
		FUZZ_CHECK(j < n);
		if (c != '\\' || (unsigned char)src[j] == '\\') {
			back[j] = dst[i++];
			continue;
		}
		FUZZ_CHECK(i + 1 < o);
		switch (dst[i + 1]) {
		case 'n': back[j] = '\n'; i += 2; break;
		case 't': back[j] = '\t'; i += 2; break;
		case 'r': back[j] = '\r'; i += 2; break;
		case 'x':
			FUZZ_CHECK(i + 3 < o);
			back[j] = (char)strtol((char[]){ dst[i + 2], dst[i + 3],
			    '\0' }, NULL, 16);
			i += 4;
			break;
		default:
			FUZZ_CHECK(!"unknown escape");
		}
	}
	FUZZ_CHECK(memcmp(back, src, j) == 0);
	if (dsize >= 4 * n + 1)
		FUZZ_CHECK(j == n);
	free(dst);
	free(back);
	return 0;
}
