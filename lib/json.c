/* json: JSON strings for the programs' --json outputs. */
#include <stdio.h>

#include "json.h"

int
json_write_string(FILE *f, const char *s)
{
	const unsigned char *c;

	putc('"', f);
	for (c = (const unsigned char *)s; *c != '\0'; c++)
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			fprintf(f, "\\u%04x", *c);
		else
			putc(*c, f);
	putc('"', f);
	return ferror(f) ? -1 : 0;
}
