/* fuzz pqueue's store reader (lib/store) over a mutated queue directory.
 * The input is one flags byte, the first STATE_HEAD bytes of `state`
 * (zero-padded to its 4 KiB) and the bytes of one segment. Flags bits
 * 0-1 pick the segment's number (0 to 3), bit 2 adds an empty second
 * segment after it, bit 3 keeps the input's boot field (`state` is then
 * from another boot, and the store recovers the records after its tail:
 * see store.h); without it the field says this boot. The target writes them into a scratch queue
 * directory, then opens the queue and stats, peeks and pops it through
 * store.h, twice (the second open sees what the first one committed).
 * Checks: the work is bounded (no more messages than records could fit
 * in the input); every message handed out is whole and lies in the
 * segment, between the head and the tail that the input's state names
 * (after the head, for a state of another boot), as a record whose
 * CRC-32C (computed here, bit by bit) is right; a failure comes with an
 * error report. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "store.h"

#define STATE_SIZE	4096
#define STATE_HEAD	272	/* magic, version, dead length, both positions */
#define HDR		32
#define BOOT_AT		24	/* state's boot field: wall ns of the boot */

static char dir[64];
static int errors;
/* Where in the segment a committed record may lie: [lo, hi). */
static uint64_t lo, hi;
static int tail_here;	/* the tail is in the segment, head not past it */

static void
on_report(void *arg, int level, int errnum, const char *text)
{
	(void)arg;
	(void)errnum;
	FUZZ_CHECK(text != NULL && text[0] != '\0');
	if (level == STORE_ERROR)
		errors++;
}

static const struct store_hooks hooks = { on_report, NULL, NULL, "fuzzq" };

static uint32_t
crc_bits(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;
	int k;

	crc = ~crc;
	while (n--) {
		crc ^= *b++;
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
	}
	return ~crc;
}

/* Is m a record of seg[0..n) with a right CRC? */
static int
in_segment(const uint8_t *seg, size_t n, const struct store_msg *m)
{
	uint32_t len, crc, attempt;
	uint64_t id;
	int64_t time;
	size_t o;

	for (o = lo; o + HDR <= n && o < hi; o++) {
		memcpy(&len, seg + o, 4);
		memcpy(&crc, seg + o + 4, 4);
		memcpy(&id, seg + o + 8, 8);
		memcpy(&time, seg + o + 16, 8);
		memcpy(&attempt, seg + o + 24, 4);
		if (len != m->len || id != m->id || time != m->time ||
		    attempt != m->attempt || len > n - o - HDR ||
		    len > hi - o - HDR ||
		    memcmp(seg + o + HDR, m->data, len) != 0)
			continue;
		if (crc_bits(crc_bits(crc_bits(crc_bits(0, seg + o, 4),
		    seg + o + 16, 16), seg + o + HDR, len), &id, 8) == crc)
			return 1;
	}
	return 0;
}

static void
put(const char *name, const void *p, size_t n)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(n == 0 || write(fd, p, n) == (ssize_t)n);
	close(fd);
}

/* Empty the scratch directory (and its lease/). */
static void
clean(const char *d)
{
	char path[512];
	struct dirent *de;
	struct stat sb;
	DIR *dp;

	if ((dp = opendir(d)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", d, de->d_name);
		if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			clean(path);
			FUZZ_CHECK(rmdir(path) == 0);
		} else {
			FUZZ_CHECK(unlink(path) == 0);
		}
	}
	closedir(dp);
}

/* Open, stat, peek and pop everything: the number of messages popped. */
static size_t
drain(const uint8_t *seg, size_t n, size_t bound)
{
	struct store_stat st;
	struct store_msg m;
	struct store *s;
	size_t popped = 0;
	int r;

	errors = 0;
	if (store_open(&s, dir, 0, &hooks) < 0) {
		FUZZ_CHECK(errno != 0);
		FUZZ_CHECK(errors > 0);
		return 0;
	}
	if (store_stat(s, &st) == 0 && st.oldest >= 0)
		FUZZ_CHECK(st.length > 0);
	if (store_peek(s, &m) == 1)
		FUZZ_CHECK(in_segment(seg, n, &m));
	while ((r = store_take(s, &m)) == 1) {
		FUZZ_CHECK(in_segment(seg, n, &m));
		FUZZ_CHECK(++popped <= bound);
		FUZZ_CHECK(store_ack(s, &m) == 0);
	}
	if (r < 0)
		FUZZ_CHECK(errors > 0);
	else
		FUZZ_CHECK(store_len(s) == 0 || errors > 0);
#ifdef STORE_FUZZ_TRACE
	fprintf(stderr, "popped %zu, take %d, %d errors\n", popped, r, errors);
#endif
	store_release(s);
	store_close(s);
	return popped;
}

/* The position state names by its generation counter at gen: segment
 * and offset. */
static void
slot(const uint8_t *state, size_t gen, uint64_t *seg, uint64_t *off)
{
	uint64_t g;

	memcpy(&g, state + gen, 8);
	memcpy(seg, state + gen + 8 + 32 * (g & 1), 8);
	memcpy(off, state + gen + 16 + 32 * (g & 1), 8);
}

/* When this boot began, wall ns, as lib/store reckons it. */
static int64_t
boot_now(void)
{
	struct timespec w, b;

	clock_gettime(CLOCK_REALTIME, &w);
	clock_gettime(CLOCK_BOOTTIME, &b);
	return ((int64_t)w.tv_sec - b.tv_sec) * 1000000000 +
	    (w.tv_nsec - b.tv_nsec);
}

/* The part of segment segno between head and tail: lo, hi. */
static void
committed(const uint8_t *state, uint64_t segno)
{
	uint64_t hseg, hoff, tseg, toff;

	slot(state, 64, &tseg, &toff);
	slot(state, 192, &hseg, &hoff);
	lo = hseg == segno ? hoff : 0;
	hi = tseg == segno ? toff : UINT64_MAX;
	tail_here = tseg == segno && lo <= hi && hseg <= segno;
	if (hseg > segno || tseg < segno || lo > hi)
		lo = hi = 0;
}

static void
remove_dir(void)
{
	clean(dir);
	rmdir(dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t state[STATE_SIZE];
	const uint8_t *seg;
	char name[32];
	size_t n, hn, bound;
	unsigned segno;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "%s/pkit-fuzz-store.XXXXXX",
		    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		FUZZ_CHECK(mkdtemp(dir) != NULL);
		atexit(remove_dir);
	}
	if (size < 1)
		return 0;
	segno = data[0] & 3;
	hn = size - 1 < STATE_HEAD ? size - 1 : STATE_HEAD;
	memset(state, 0, sizeof(state));
	memcpy(state, data + 1, hn);
	if (!(data[0] & 8)) {
		int64_t boot = boot_now();

		memcpy(state + BOOT_AT, &boot, 8);
	}
	seg = data + 1 + hn;
	n = size - 1 - hn;
	clean(dir);
	put("state", state, sizeof(state));
	snprintf(name, sizeof(name), "%016x.seg", segno);
	put(name, seg, n);
	if (data[0] & 4) {
		snprintf(name, sizeof(name), "%016x.seg", segno + 1);
		put(name, "", 0);
	}
	committed(state, segno);
	if ((data[0] & 8) && tail_here)
		hi = UINT64_MAX;	/* a recovery may take in what follows */
	/* Each message takes a header of the segment. */
	bound = n / HDR;
	bound -= drain(seg, n, bound);
	drain(seg, n, bound);
	return 0;
}
