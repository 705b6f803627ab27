/* file: whole-file writes that a reader sees entirely or not at all. */
#ifndef PKIT_FILE_H
#define PKIT_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Write data[0..len) to PATH.tmp (created with mode, not following a
 * link, truncated) and rename it over path, so a reader sees the old
 * contents or the new, never a part. 0, or -1 with errno (PATH.tmp is
 * removed; ENAMETOOLONG: PATH.tmp is longer than PATH_MAX). */
int file_replace(const char *path, const void *data, size_t len,
    mode_t mode);

#endif
