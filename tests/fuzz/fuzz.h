/* fuzz: what every target in tests/fuzz shares.
 *
 * A target defines LLVMFuzzerTestOneInput. It is linked either with
 * libFuzzer (make fuzz, clang -fsanitize=fuzzer,address,undefined) or with
 * replay.c (make check: the checked-in corpus run through the same entry
 * point by the normal compiler). A target checks properties, not only
 * "no crash": FUZZ_CHECK aborts with the failed condition, which both
 * drivers report as a failure with the input that caused it. */
#ifndef PKIT_FUZZ_H
#define PKIT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Wide integers for models that must not overflow (gcc and clang). */
__extension__ typedef __int128 fuzz_i128;
__extension__ typedef unsigned __int128 fuzz_u128;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", \
		    __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* A NUL-terminated malloc'd copy of data (cut at its first NUL, as a
 * C string argument would be). */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
