/* json: the small pieces of JSON that the programs' --json outputs need. */
#ifndef PKIT_JSON_H
#define PKIT_JSON_H

#include <stdio.h>

/* Write s to f as a JSON string: quoted, with '"', '\\' and control
 * characters escaped. Returns 0, or -1 when f has an error. */
int json_write_string(FILE *f, const char *s);

#endif
