/*
 * store: the on-disk queue behind pqueue. The format, the commit protocol
 * and the lock order are described at the top of store.h; here are the
 * rules the code keeps on top of them.
 *
 * Waiting. A blocked consumer makes its watch (store_watch) before its
 * first look. The data write's event comes before the commit, so a
 * consumer that finds the queue empty takes and drops APPEND, which
 * waits out any commit in progress, and looks again before it sleeps.
 *
 * Leases. A runner writes the record to lease/ID.PID and locks it while
 * holding HEAD, then commits the head. When done it unlinks the lease;
 * on failure it appends the record again (attempt + 1) or to `dead`, and
 * unlinks the lease only if that append succeeded. A consumer that finds
 * the queue empty tries to read-lock each lease: success means the
 * holder is gone, and the record goes back to the tail with attempt + 1.
 *
 * Checks on open. The positions in `state` must agree with the segment
 * files (head <= tail, counters in step, the segments between them
 * present, offsets inside them); a state that does not (a zeroed or
 * damaged `state`) is refused with EUCLEAN, never used: store_fsck
 * rebuilds it from the segments' CRC-checked records.
 *
 * Durability. With sync, a push fdatasyncs the segment (and fsyncs the
 * directory for a new segment) before it succeeds: one device flush.
 * `state` is not synced; it is written back whenever the kernel likes,
 * so after a crash its tail may lag what was synced. `state` records
 * the boot it is current in (wall time of the boot); the first writable
 * open in a later boot scans on from the committed tail over sound
 * records (CRC right, id not beyond the sequence) and commits them
 * (tail_recover). No old record ever lies at the tail: an emptied tail
 * moves on to a new, empty segment (tail_empty), and a roll truncates
 * the old segment at its tail. What such a scan may also take in are
 * whole records of a producer killed before its commit (not
 * acknowledged: never promised, never a repeat of a delivered one).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "store.h"
#include "watch.h"

#define STATE_SIZE	4096
#define STATE_MAGIC	"PQUEUE1"
#define SEG_MAX		(64ULL << 20)	/* roll to a new segment past this */
#define HDR		32
#define READ_CHUNK	(64 * 1024)
#define HOLD_MAX	256		/* messages per hold of HEAD */
#define ROLL_EMPTY	(64 * 1024)	/* an empty tail this big is rolled */
#define F_NOTE		0x80000000u	/* dead letter: a note follows the
					 * message; its length in the low
					 * 16 bits of flags */
#define NOTE_LEN(r)	((r)->flags & F_NOTE ? (r)->flags & 0xffff : 0)

enum { LK_APPEND = 0, LK_HEAD = 1, LK_DEAD = 2 };

/*
 * open(2) on a regular file or directory is not interrupted in practice,
 * but an EINTR from it must never pass for the caller's "asked to stop"
 * (every -1 with EINTR here means that): retry it.
 */
static int
open_retry(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	while ((fd = open(path, flags, mode)) < 0 && errno == EINTR)
		;
	return fd;
}

static int
openat_retry(int dfd, const char *path, int flags)
{
	int fd;

	while ((fd = openat(dfd, path, flags)) < 0 && errno == EINTR)
		;
	return fd;
}

struct rec {
	uint32_t len;
	uint32_t crc;
	uint64_t id;
	int64_t time;
	uint32_t attempt;
	uint32_t flags;
};
_Static_assert(sizeof(struct rec) == HDR, "record header is 32 bytes");

struct slot {
	_Atomic uint64_t seg, off, seq, bytes;
};

struct pos {
	uint64_t seg, off, seq, bytes;
};

struct state {
	char magic[8];
	uint32_t version, pad;
	_Atomic uint64_t dead_len;	/* committed length of `dead` */
	_Atomic int64_t boot;		/* the boot it was last current in:
					 * wall ns of that boot (0: unknown) */
	_Atomic uint64_t named;		/* 1 + the last segment whose name
					 * a sync push fsync'ed (0: none) */
	char pad1[24];
	_Atomic uint64_t tail_gen;
	struct slot tail[2];
	char pad2[56];
	_Atomic uint64_t head_gen;
	struct slot head[2];
};

struct store {
	char path[PATH_MAX];
	const char *name;	/* for messages */
	struct store_hooks h;
	int sfd;		/* state */
	int rdonly;
	struct state *st;
	int wfd;		/* tail segment open for writing */
	uint64_t wseg;
	int rfd;		/* head segment open for reading */
	uint64_t rseg;
	char *rbuf;		/* window of the head segment */
	size_t rcap, rlen;
	uint64_t roff;		/* file offset of rbuf[0] */
	int watch;		/* -1 until store_watch */
	int held, hold;		/* HEAD held; messages taken under it */
	int64_t push_due;	/* store_push_delay: 0 none */
	int64_t next_due;	/* earliest delayed message, wall ns */
	int64_t scanned;	/* last look at lease/, monotonic ns */
	struct timespec opened;	/* wall time of store_open */
	unsigned long made;	/* delayed files made by this process */
};

/* ---- reports ---- */

static void
report(const struct store_hooks *h, int level, int errnum, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
report(const struct store_hooks *h, int level, int errnum, const char *fmt,
    ...)
{
	char text[PATH_MAX + 256];
	va_list ap;

	if (h == NULL || h->report == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	h->report(h->arg, level, errnum, text);
}

/* Report errno as an error and return -1 with errno kept. */
#define FAIL(s, ...) do { int e_ = errno; \
	report(&(s)->h, STORE_ERROR, e_, __VA_ARGS__); \
	errno = e_; return -1; } while (0)

/* ---- CRC-32C (Castagnoli), sliced by 8 on little-endian hosts ---- */

static uint32_t crc_table[8][256];

static void
crc_init(void)
{
	uint32_t c;
	int i, k;

	if (crc_table[0][1] != 0)
		return;
	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78 : c >> 1;
		crc_table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^
			    crc_table[0][crc_table[k - 1][i] & 0xff];
}

static uint32_t
crc32c(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint32_t lo, hi;
#endif

	crc = ~crc;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; n >= 8; n -= 8, b += 8) {
		memcpy(&lo, b, 4);
		memcpy(&hi, b + 4, 4);
		lo ^= crc;
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		    crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		    crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		    crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
	}
#endif
	while (n--)
		crc = crc_table[0][(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* Everything but the id, which a producer learns only under the lock. */
static uint32_t
crc_partial(const struct rec *r, const void *data)
{
	uint32_t c;

	c = crc32c(0, &r->len, 4);
	c = crc32c(c, &r->time, 16);
	return crc32c(c, data, r->len);
}

static uint32_t
crc_final(uint32_t partial, uint64_t id)
{
	return crc32c(partial, &id, 8);
}

static int
rec_ok(const struct rec *r, const void *data)
{
	return crc_final(crc_partial(r, data), r->id) == r->crc;
}

/* ---- positions: two slots and a generation counter each ---- */

static void
pos_load(_Atomic uint64_t *gen, struct slot s[2], struct pos *p)
{
	uint64_t g;
	struct slot *x;

	do {
		g = atomic_load_explicit(gen, memory_order_acquire);
		x = &s[g & 1];
		p->seg = atomic_load_explicit(&x->seg, memory_order_relaxed);
		p->off = atomic_load_explicit(&x->off, memory_order_relaxed);
		p->seq = atomic_load_explicit(&x->seq, memory_order_relaxed);
		p->bytes = atomic_load_explicit(&x->bytes,
		    memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
	} while (atomic_load_explicit(gen, memory_order_relaxed) != g);
}

/* Caller holds the lock that guards this position. */
static void
pos_store(_Atomic uint64_t *gen, struct slot s[2], const struct pos *p)
{
	uint64_t g = atomic_load_explicit(gen, memory_order_relaxed) + 1;
	struct slot *x = &s[g & 1];

	atomic_store_explicit(&x->seg, p->seg, memory_order_relaxed);
	atomic_store_explicit(&x->off, p->off, memory_order_relaxed);
	atomic_store_explicit(&x->seq, p->seq, memory_order_relaxed);
	atomic_store_explicit(&x->bytes, p->bytes, memory_order_relaxed);
	atomic_store_explicit(gen, g, memory_order_release);
}

/* Positions only move forward (seq never falls), so the slot the counter
 * names holds a seq at least the other's: else the counter is damaged
 * and names the older position, which would lose or repeat messages. */
static int
pos_sound(_Atomic uint64_t *gen, struct slot s[2])
{
	uint64_t g = atomic_load_explicit(gen, memory_order_acquire);

	return atomic_load(&s[g & 1].seq) >= atomic_load(&s[(g & 1) ^ 1].seq);
}

#define TAIL_LOAD(s, p)  pos_load(&(s)->st->tail_gen, (s)->st->tail, (p))
#define TAIL_STORE(s, p) pos_store(&(s)->st->tail_gen, (s)->st->tail, (p))
#define HEAD_LOAD(s, p)  pos_load(&(s)->st->head_gen, (s)->st->head, (p))
#define HEAD_STORE(s, p) pos_store(&(s)->st->head_gen, (s)->st->head, (p))

/* ---- locks ---- */

static int
lock_fd(const struct store_hooks *h, int fd, int byte, int type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = (short)type;
	fl.l_whence = SEEK_SET;
	fl.l_start = byte;
	fl.l_len = 1;
	if (fcntl(fd, F_SETLK, &fl) == 0)
		return 0;
	if (type == F_UNLCK || (errno != EAGAIN && errno != EACCES))
		return -1;
	if (h->lockwait != NULL)
		return h->lockwait(h->arg, fd, &fl);
	while (fcntl(fd, F_SETLKW, &fl) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* A whole-file write lock on fd, without waiting; 0 or -1. */
static int
lock_whole(int fd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, F_SETLK, &fl);
}

/* 0, or -1: EINTR quietly (asked to stop), else reported. */
static int
lock(struct store *s, int byte, int type)
{
	if (lock_fd(&s->h, s->sfd, byte, type) == 0)
		return 0;
	if (errno == EINTR)
		return -1;
	FAIL(s, "%s: cannot lock", s->name);
}

static void
unlock(struct store *s, int byte)
{
	lock_fd(&s->h, s->sfd, byte, F_UNLCK);
}

/* Stop signals are blocked (lib/loop), so one that comes stays
 * pending: a repeating tick interrupts F_SETLKW to look for it. A tick
 * that fires before F_SETLKW blocks is lost, but the next is not. */
static void
on_tick(int sig)
{
	(void)sig;
}

static void
tick_set(long us)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = it.it_interval.tv_usec = us;
	setitimer(ITIMER_REAL, &it, NULL);
}

static int
stop_pending(const sigset_t *stop)
{
	sigset_t set;
	int sig;

	if (sigpending(&set) < 0)
		return 0;
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(stop, sig) == 1 && sigismember(&set, sig) == 1)
			return 1;
	return 0;
}

int
store_lockwait_signals(void *arg, int fd, void *fl)
{
	const sigset_t *stop = arg;
	struct sigaction sa, old;
	sigset_t alrm, oldmask;
	int r, e;

	for (r = 1; stop != NULL && r < NSIG; r++)
		if (sigismember(stop, r) == 1)
			break;
	if (stop == NULL || r == NSIG) {
		while ((r = fcntl(fd, F_SETLKW, fl)) < 0 && errno == EINTR)
			;
		return r;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_UNBLOCK, &alrm, &oldmask);
	tick_set(10000);
	for (;;) {
		if (stop_pending(stop)) {
			r = -1;
			errno = EINTR;
			break;
		}
		if ((r = fcntl(fd, F_SETLKW, fl)) == 0 || errno != EINTR)
			break;
	}
	e = errno;
	tick_set(0);
	sigaction(SIGALRM, &old, NULL);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	errno = e;
	return r;
}

/* ---- naming and opening ---- */

const char *
store_dir(const char *dir, char *buf, size_t size, int *is_tmp)
{
	const char *d;

	*is_tmp = 0;
	if (dir != NULL)
		return dir;
	if ((d = getenv("PQUEUE_DIR")) != NULL && *d != '\0')
		return d;
	if ((d = getenv("XDG_RUNTIME_DIR")) != NULL && *d != '\0') {
		snprintf(buf, size, "%s/pqueue", d);
		return buf;
	}
	*is_tmp = 1;
	snprintf(buf, size, "/tmp/pqueue-%lu", (unsigned long)getuid());
	return buf;
}

int
store_dir_private(const char *d)
{
	struct stat sb;

	if (lstat(d, &sb) < 0)
		return -1;
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != getuid() ||
	    (sb.st_mode & 077) != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int
store_path(const char *dir, const char *spec, char *path, size_t size,
    int *flags)
{
	char dbuf[PATH_MAX];
	const char *d;
	int is_tmp, n;

	if (spec[0] == '/' || (spec[0] == '.' && spec[1] == '/')) {
		n = snprintf(path, size, "%s", spec);
	} else {
		if (!store_name_valid(spec)) {
			errno = EINVAL;
			return -1;
		}
		d = store_dir(dir, dbuf, sizeof(dbuf), &is_tmp);
		n = snprintf(path, size, "%s/%s", d, spec);
		*flags |= STORE_MKDIRS | (is_tmp ? STORE_SHARED : 0);
		/* In a shared /tmp, anyone could have made it first. */
		if (is_tmp && access(d, F_OK) == 0 &&
		    store_dir_private(d) < 0) {
			errno = EPERM;
			return -1;
		}
	}
	if (n < 0 || (size_t)n >= size - 64) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
store_list(const char *dir, char ***names, size_t *np)
{
	char path[PATH_MAX * 2], **v = NULL, **nv;
	struct dirent *de;
	struct stat sb;
	size_t n = 0;
	DIR *d;
	int e;

	*names = NULL;
	*np = 0;
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (!store_name_valid(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s/state", dir, de->d_name);
		if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL)
			goto fail;
		v = nv;
		if ((v[n] = strdup(de->d_name)) == NULL)
			goto fail;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_str);
	*names = v;
	*np = n;
	return 0;
fail:
	e = errno;
	closedir(d);
	while (n > 0)
		free(v[--n]);
	free(v);
	errno = e;
	return -1;
}

int
store_name_valid(const char *s)
{
	if (*s == '\0' || *s == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
		    *s == '-'))
			return 0;
	return 1;
}

/* mkdir -p for the directory of queues; the last level gets 0700. */
static int
mkdirs(const char *path)
{
	char buf[PATH_MAX], *p;
	struct stat sb;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
	if (lstat(buf, &sb) < 0)
		return -1;
	if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static void
fsync_path(const char *path)
{
	int fd = open_retry(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* The parent of path, in buf. */
static void
parent_of(const char *path, char *buf, size_t size)
{
	char *slash;

	snprintf(buf, size, "%s", path);
	if ((slash = strrchr(buf, '/')) == NULL)
		snprintf(buf, size, ".");
	else if (slash == buf)
		buf[1] = '\0';
	else
		*slash = '\0';
}

static int
create_dirs(struct store *s, int flags)
{
	char d[PATH_MAX], lease[PATH_MAX + 8];

	if (flags & STORE_MKDIRS) {
		parent_of(s->path, d, sizeof(d));
		if (mkdirs(d) < 0)
			FAIL(s, "cannot create %s", d);
	}
	if (mkdir(s->path, 0700) < 0 && errno != EEXIST)
		FAIL(s, "cannot create queue %s", s->path);
	snprintf(lease, sizeof(lease), "%s/lease", s->path);
	if (mkdir(lease, 0700) < 0 && errno != EEXIST)
		FAIL(s, "cannot create %s", lease);
	return 0;
}

static void
seg_path(const struct store *s, uint64_t seg, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%016llx.seg", s->path, (unsigned long long)seg);
}

/* Segment numbers in the queue directory: how many, and the lowest and
 * highest. -1 with errno. */
static int
seg_scan(const char *path, uint64_t *n, uint64_t *lo, uint64_t *hi)
{
	struct dirent *de;
	unsigned long long v;
	char *end;
	DIR *d;

	*n = 0;
	*lo = UINT64_MAX;
	*hi = 0;
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 20 ||
		    strcmp(de->d_name + 16, ".seg") != 0)
			continue;
		errno = 0;
		v = strtoull(de->d_name, &end, 16);
		if (errno != 0 || end != de->d_name + 16)
			continue;
		(*n)++;
		if (v < *lo)
			*lo = v;
		if (v > *hi)
			*hi = v;
	}
	closedir(d);
	return 0;
}

static int
dead_exists(const struct store *s)
{
	char p[PATH_MAX + 8];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/dead", s->path);
	return stat(p, &sb) == 0 && sb.st_size > 0;
}

/* When this boot began, in wall ns: the same for every process until
 * the next boot (give or take a clock step). */
static int64_t
boot_instant(void)
{
	struct timespec b;

	if (clock_gettime(CLOCK_BOOTTIME, &b) < 0)
		return 0;
	return clock_wall() - ((int64_t)b.tv_sec * NS_PER_SEC + b.tv_nsec);
}

/* The first opener of a new queue fills in `state` under APPEND. A
 * creator killed halfway leaves it short or all zero: finished here,
 * unless segments show that this is an old queue whose state was lost. */
static int
init_state(struct store *s)
{
	static const char zero[8];
	char parent[PATH_MAX];
	struct stat sb;
	struct state *st;
	uint64_t n, lo, hi;
	int e, r = 0;

	if (s->rdonly) {
		errno = EROFS;
		FAIL(s, "%s: cannot create state", s->name);
	}
	if (lock(s, LK_APPEND, F_WRLCK) < 0)
		return -1;
	if (fstat(s->sfd, &sb) < 0) {
		e = errno;
		unlock(s, LK_APPEND);
		errno = e;
		FAIL(s, "%s: stat", s->name);
	}
	if (sb.st_size != 0 && sb.st_size < STATE_SIZE) {
		unlock(s, LK_APPEND);
		errno = EINVAL;
		report(&s->h, STORE_ERROR, 0, "%s: not a pqueue queue (short "
		    "state file)", s->name);
		return -1;
	}
	/* Blocks for the whole file before the first touch of the map: a
	 * full disk is an error here, not a SIGBUS later. */
	if ((e = posix_fallocate(s->sfd, 0, STATE_SIZE)) != 0) {
		unlock(s, LK_APPEND);
		errno = e;
		FAIL(s, "%s: cannot create state", s->name);
	}
	st = mmap(NULL, STATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    s->sfd, 0);
	if (st == MAP_FAILED) {
		e = errno;
		unlock(s, LK_APPEND);
		errno = e;
		FAIL(s, "%s: mmap", s->name);
	}
	if (memcmp(st->magic, zero, 8) == 0) {
		if (seg_scan(s->path, &n, &lo, &hi) == 0 &&
		    (n > 0 || dead_exists(s))) {
			report(&s->h, STORE_ERROR, 0, "%s: state is empty but "
			    "the queue holds segments (run pqueue fsck)",
			    s->name);
			errno = EUCLEAN;
			r = -1;
		} else {
			st->version = 1;
			atomic_store(&st->boot, boot_instant());
			memcpy(st->magic, STATE_MAGIC, 8);
			fsync(s->sfd);
			fsync_path(s->path);
			parent_of(s->path, parent, sizeof(parent));
			fsync_path(parent);
		}
	}
	e = errno;
	munmap(st, STATE_SIZE);
	unlock(s, LK_APPEND);
	errno = e;
	return r;
}

static uint64_t
file_size(const char *p, int *exists)
{
	struct stat sb;

	*exists = stat(p, &sb) == 0;
	return *exists ? (uint64_t)sb.st_size : 0;
}

/* Do head and tail agree with each other and with the segment files?
 * NULL, or what is wrong. Positions move under us: the caller retries
 * when a generation counter changed. */
static const char *
check_positions(struct store *s)
{
	char p[PATH_MAX + 32];
	struct pos h, t;
	uint64_t n, lo, hi, seg, size;
	int exists;

	if (!pos_sound(&s->st->head_gen, s->st->head) ||
	    !pos_sound(&s->st->tail_gen, s->st->tail))
		return "a generation counter names the older position";
	HEAD_LOAD(s, &h);
	TAIL_LOAD(s, &t);
	if (h.seg > t.seg || (h.seg == t.seg && h.off > t.off))
		return "head is past the tail";
	if (h.seq > t.seq || h.bytes > t.bytes)
		return "counters out of step";
	if ((h.seq == t.seq) != (h.seg == t.seg && h.off == t.off))
		return "counters out of step";
	/* In one segment the records between head and tail are exactly
	 * what the counters say; across segments the tail's part is at
	 * most that (a skipped damaged segment leaves counts behind). */
	if (h.seg == t.seg && t.off - h.off != (t.bytes - h.bytes) +
	    HDR * (t.seq - h.seq))
		return "head or tail offset does not match the counters";
	if (h.seg < t.seg && t.off > (t.bytes - h.bytes) +
	    HDR * (t.seq - h.seq))
		return "tail offset does not match the counters";
	if (t.seq - h.seq > (t.seg - h.seg + 1) * (SEG_MAX / HDR + 1) ||
	    t.bytes - h.bytes > (t.seg - h.seg + 1) * SEG_MAX)
		return "counters out of range";
	if (seg_scan(s->path, &n, &lo, &hi) < 0)
		return NULL;	/* cannot tell: the reads will say */
	if (n > 0 && hi > t.seg + 1)
		return "segments beyond the tail";
	if (h.seg == t.seg && h.off == t.off) {
		if (t.off == 0)
			return NULL;
		seg_path(s, t.seg, p, sizeof(p));
		size = file_size(p, &exists);
		return exists && size >= t.off ? NULL : "tail segment short";
	}
	if (t.seg - h.seg + 1 > n)
		return "segments missing";
	for (seg = h.seg; seg <= t.seg; seg++) {
		seg_path(s, seg, p, sizeof(p));
		size = file_size(p, &exists);
		if (!exists)
			return seg == t.seg && t.off == 0 ? NULL :
			    "segments missing";
		if ((seg == h.seg && h.off > size) ||
		    (seg == t.seg && t.off > size))
			return "offset beyond its segment";
	}
	return NULL;
}

static int
validate(struct store *s)
{
	const char *why = NULL;
	uint64_t hg, tg;
	int tries;

	for (tries = 0; tries < 5; tries++) {
		hg = atomic_load(&s->st->head_gen);
		tg = atomic_load(&s->st->tail_gen);
		if ((why = check_positions(s)) == NULL)
			return 0;
		if (hg == atomic_load(&s->st->head_gen) &&
		    tg == atomic_load(&s->st->tail_gen))
			break;	/* nothing moved: it is damage */
		why = NULL;
	}
	if (why == NULL)
		return 0;	/* a busy queue, evidently working */
	report(&s->h, STORE_ERROR, 0, "%s: damaged state (%s); run pqueue "
	    "fsck", s->name, why);
	errno = EUCLEAN;
	return -1;
}

static int
open_state(struct store *s, int flags)
{
	char sp[PATH_MAX + 8];

	snprintf(sp, sizeof(sp), "%s/state", s->path);
	s->sfd = open_retry(sp, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (s->sfd < 0 && (flags & STORE_READ) &&
	    (errno == EROFS || errno == EACCES)) {
		s->sfd = open_retry(sp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		s->rdonly = 1;
	}
	if (s->sfd < 0 && errno == ENOENT && (flags & STORE_CREATE)) {
		if (create_dirs(s, flags) < 0)
			return -1;
		s->sfd = open_retry(sp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	}
	if (s->sfd < 0) {
		if (errno == ENOENT && !(flags & STORE_CREATE))
			return -1;
		FAIL(s, "%s: cannot open %s", s->name, sp);
	}
	return 0;
}

static int
map_state(struct store *s)
{
	char sp[PATH_MAX + 8];
	struct stat sb;

	if (fstat(s->sfd, &sb) < 0)
		FAIL(s, "%s: stat", s->name);
	if (sb.st_size < STATE_SIZE && init_state(s) < 0)
		return -1;
	s->st = mmap(NULL, STATE_SIZE, PROT_READ | (s->rdonly ? 0 :
	    PROT_WRITE), MAP_SHARED, s->sfd, 0);
	if (s->st == MAP_FAILED) {
		s->st = NULL;
		FAIL(s, "%s: mmap", s->name);
	}
	if (memcmp(s->st->magic, STATE_MAGIC, 8) != 0 && init_state(s) < 0)
		return -1;	/* being made, or its maker died */
	if (memcmp(s->st->magic, STATE_MAGIC, 8) != 0) {
		snprintf(sp, sizeof(sp), "%s/state", s->path);
		report(&s->h, STORE_ERROR, 0, "%s: not a pqueue queue (bad "
		    "%s)", s->name, sp);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* The first sound record at off of the open segment fd (size bytes),
 * if its id fits a record appended after seq: its length in *len. 1 or
 * 0. */
static int
rec_at(int fd, uint64_t size, uint64_t off, uint64_t seq, uint32_t *len)
{
	struct rec r;
	char *buf;
	int ok;

	if (off + HDR > size || pread(fd, &r, HDR, (off_t)off) != HDR ||
	    r.len > STORE_MSG_LIMIT || off + HDR + r.len > size ||
	    r.id == 0 || r.id > seq + 1 || (buf = malloc(r.len + 1)) == NULL)
		return 0;
	ok = pread(fd, buf, r.len, (off_t)(off + HDR)) == (ssize_t)r.len &&
	    rec_ok(&r, buf);
	free(buf);
	*len = r.len;
	return ok;
}

/* After a reboot (a crash may have kept a segment's synced records but
 * not the state that commits them): take into the queue the sound
 * records that follow the committed tail, in its segment and, when that
 * ends cleanly, in the next. APPEND is taken. 0, or -1 (reported). */
static int
tail_recover(struct store *s, int64_t boot)
{
	char p[PATH_MAX + 32];
	struct pos t, t0;
	struct stat sb;
	uint64_t n = 0;
	uint32_t len;
	int fd = -1;

	if (lock(s, LK_APPEND, F_WRLCK) < 0)
		return -1;
	TAIL_LOAD(s, &t);
	t0 = t;
	for (;;) {
		if (fd < 0) {
			seg_path(s, t.seg, p, sizeof(p));
			if ((fd = open_retry(p, O_RDONLY | O_CLOEXEC)) < 0)
				break;
			if (fstat(fd, &sb) < 0)
				break;
		}
		if (rec_at(fd, (uint64_t)sb.st_size, t.off, t.seq, &len)) {
			t.off += HDR + len;
			t.seq++;
			t.bytes += len;
			n++;
			continue;
		}
		if (t.off != (uint64_t)sb.st_size || t.off == 0)
			break;
		/* A clean end: a roll may have gone on into the next. */
		close(fd);
		seg_path(s, t.seg + 1, p, sizeof(p));
		if ((fd = open_retry(p, O_RDONLY | O_CLOEXEC)) < 0 ||
		    fstat(fd, &sb) < 0 ||
		    !rec_at(fd, (uint64_t)sb.st_size, 0, t.seq, &len))
			break;
		t.seg++;
		t.off = 0;
	}
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		TAIL_STORE(s, &t);
		report(&s->h, STORE_NOTICE, 0, "%s: %llu message(s) found "
		    "after the committed tail (%016llx.seg offset %llu) and "
		    "taken in", s->name, (unsigned long long)n,
		    (unsigned long long)t0.seg, (unsigned long long)t0.off);
	}
	atomic_store(&s->st->boot, boot);
	unlock(s, LK_APPEND);
	return 0;
}

/* Is the state current in this boot? Else (a reboot since it was last
 * written, or a queue of an older pqueue) recover a lagging tail. */
static int
boot_check(struct store *s)
{
	int64_t boot = boot_instant(), was = atomic_load(&s->st->boot);

	if (s->rdonly || boot == 0 || (was > boot - 2 * NS_PER_SEC &&
	    was < boot + 2 * NS_PER_SEC))
		return 0;
	return tail_recover(s, boot);
}

int
store_open(struct store **sp, const char *path, int flags,
    const struct store_hooks *h)
{
	char dir[PATH_MAX];
	struct store *s;
	int e;

	crc_init();
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		report(h, STORE_ERROR, errno, "out of memory");
		return -1;
	}
	if (h != NULL)
		s->h = *h;
	s->sfd = s->wfd = s->rfd = s->watch = -1;
	/* The clock file times come from: any lease we make is as new. */
	clock_gettime(CLOCK_REALTIME_COARSE, &s->opened);
	s->wseg = s->rseg = UINT64_MAX;
	if (strlen(path) >= sizeof(s->path) - 64) {
		free(s);
		errno = ENAMETOOLONG;
		report(h, STORE_ERROR, errno, "%s", path);
		return -1;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->name = h != NULL && h->name != NULL ? h->name : s->path;
	if (open_state(s, flags) < 0 || map_state(s) < 0 || validate(s) < 0 ||
	    boot_check(s) < 0)
		goto fail;
	if ((flags & (STORE_SHARED | STORE_CREATE)) ==
	    (STORE_SHARED | STORE_CREATE)) {
		/* We may have made the shared directory just now: it
		 * must be ours alone (someone may have raced us to it). */
		parent_of(s->path, dir, sizeof(dir));
		if (store_dir_private(dir) < 0) {
			report(h, STORE_ERROR, 0, "%s is not a private "
			    "directory of this user (set PQUEUE_DIR or "
			    "XDG_RUNTIME_DIR)", dir);
			errno = EPERM;
			goto fail;
		}
	}
	*sp = s;
	return 0;
fail:
	e = errno;
	store_close(s);
	errno = e;
	return -1;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	store_release(s);
	if (s->st != NULL)
		munmap(s->st, STATE_SIZE);
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->wfd >= 0)
		close(s->wfd);
	if (s->rfd >= 0)
		close(s->rfd);
	if (s->watch >= 0)
		close(s->watch);
	free(s->rbuf);
	free(s);
}

/* ---- producing ---- */

static int
batch_put(struct store_batch *b, const void *data, size_t len, uint64_t id,
    int64_t time, uint32_t attempt)
{
	struct rec r;
	size_t cap;
	char *p;

	if (b->len + HDR + len > b->cap) {
		cap = b->cap ? b->cap : 64 * 1024;
		while (b->len + HDR + len > cap)
			cap *= 2;
		if ((p = realloc(b->buf, cap)) == NULL)
			return -1;
		b->buf = p;
		b->cap = cap;
	}
	memset(&r, 0, sizeof(r));
	r.len = (uint32_t)len;
	r.id = id;
	r.time = time;
	r.attempt = attempt;
	r.crc = crc_partial(&r, data);	/* finished by batch_seal */
	memcpy(b->buf + b->len, &r, HDR);
	if (len > 0)
		memcpy(b->buf + b->len + HDR, data, len);
	b->len += HDR + len;
	b->nrec++;
	b->nbytes += len;
	return 0;
}

int
store_batch_add(struct store_batch *b, const void *data, size_t len,
    int64_t time)
{
	crc_init();
	return batch_put(b, data, len, 0, time, 1);
}

void
store_batch_reset(struct store_batch *b)
{
	b->len = 0;
	b->nrec = b->nbytes = 0;
}

void
store_batch_free(struct store_batch *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/* Give records without an id (0) the next sequence numbers, and finish
 * every CRC. */
static void
batch_seal(struct store_batch *b, uint64_t seq)
{
	struct rec r;
	size_t o;

	for (o = 0; o < b->len; o += HDR + r.len, seq++) {
		memcpy(&r, b->buf + o, HDR);
		if (r.id == 0)
			r.id = seq;
		r.crc = crc_final(r.crc, r.id);
		memcpy(b->buf + o, &r, HDR);
	}
}

static int
seg_open_write(struct store *s, uint64_t seg, int trunc)
{
	char p[PATH_MAX + 32];
	int fd;

	seg_path(s, seg, p, sizeof(p));
	fd = open_retry(p, O_WRONLY | O_CREAT | O_CLOEXEC | (trunc ? O_TRUNC : 0),
	    0600);
	if (fd < 0)
		return -1;
	if (s->wfd >= 0)
		close(s->wfd);
	s->wfd = fd;
	s->wseg = seg;
	return 0;
}

/* APPEND held: write b at the tail and commit it. 0 or -1 with errno. */
static int
append_locked(struct store *s, struct store_batch *b, int sync)
{
	struct pos t;
	size_t done;
	ssize_t w;
	int rolled = 0, oldfd;

	TAIL_LOAD(s, &t);
	if (s->wseg != t.seg) {
		if (seg_open_write(s, t.seg, 0) < 0)
			return -1;
		rolled = 1;	/* may have just made it: sync its name */
	}
	if (t.off > 0 && t.off + b->len > SEG_MAX) {
		/* Cut off any torn write, so readers of a finished segment
		 * may read it to its end. */
		oldfd = s->wfd;
		s->wfd = -1;
		s->wseg = UINT64_MAX;
		if (ftruncate(oldfd, (off_t)t.off) < 0) {
			close(oldfd);
			return -1;
		}
		close(oldfd);
		if (seg_open_write(s, t.seg + 1, 1) < 0)
			return -1;
		t.seg++;
		t.off = 0;
		rolled = 1;
	}
	batch_seal(b, t.seq + 1);
	for (done = 0; done < b->len; done += (size_t)w) {
		w = pwrite(s->wfd, b->buf + done, b->len - done,
		    (off_t)(t.off + done));
		if (w < 0 && errno == EINTR)
			w = 0;
		else if (w < 0)
			return -1;
	}
	if (sync) {
		if (fdatasync(s->wfd) < 0)
			return -1;
		/* The segment's name too, once (`named` is set only after
		 * the fsync, so a crash cannot make it claim more). */
		if (rolled && atomic_load(&s->st->named) != t.seg + 1) {
			fsync_path(s->path);
			atomic_store(&s->st->named, t.seg + 1);
		}
	}
	t.off += b->len;
	t.seq += b->nrec;
	t.bytes += b->nbytes;
	/* Not msync'ed even with sync: after a crash, tail_recover finds
	 * the synced records beyond a tail that lags (one flush a push). */
	TAIL_STORE(s, &t);
	return 0;
}

/* Each record of b into a file of its own, lease/0.@DUE.PID.N (DUE in
 * hex ns since the epoch), written under a dot name and renamed, so a
 * reclaimer sees it whole or not at all. Its id stays 0 (the CRC is
 * sealed with 0) and its attempt 0: once due, lease_reclaim appends it
 * with a fresh id and attempt 1. 0, or -1 (reported). */
static int
delay_write(struct store *s, struct store_batch *b, int sync)
{
	char tmp[PATH_MAX + 64], p[PATH_MAX + 64];
	struct rec r;
	size_t o;
	int fd, ok;

	for (o = 0; o < b->len; o += HDR + r.len) {
		memcpy(&r, b->buf + o, HDR);
		r.attempt = 0;
		r.id = 0;
		r.crc = crc_final(crc_partial(&r, b->buf + o + HDR), 0);
		memcpy(b->buf + o, &r, HDR);
		snprintf(tmp, sizeof(tmp), "%s/lease/.new.%ld.%lu", s->path,
		    (long)getpid(), s->made);
		snprintf(p, sizeof(p), "%s/lease/0.@%016llx.%ld.%lu", s->path,
		    (unsigned long long)s->push_due, (long)getpid(), s->made++);
		fd = open_retry(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
		if (fd < 0)
			FAIL(s, "%s: cannot create %s", s->name, tmp);
		/* Locked while it is made: lease_reclaim removes only an
		 * unlocked, old one (its maker was killed). */
		ok = lock_whole(fd) == 0 && io_write_all(fd, b->buf + o, HDR + r.len) >= 0 &&
		    (!sync || fdatasync(fd) == 0) && rename(tmp, p) == 0;
		if (!ok) {
			unlink(tmp);
			close(fd);
			FAIL(s, "%s: cannot write the delayed message %s",
			    s->name, p);
		}
		close(fd);	/* after the rename: the event wakes waiters */
	}
	return 0;
}

void
store_push_delay(struct store *s, int64_t due)
{
	s->push_due = due;
}

int
store_push(struct store *s, struct store_batch *b, int sync)
{
	int r, e;

	if (b->nrec == 0)
		return 0;
	if (s->push_due > 0)
		return delay_write(s, b, sync);
	if (lock(s, LK_APPEND, F_WRLCK) < 0)
		return -1;
	r = append_locked(s, b, sync);
	e = errno;
	unlock(s, LK_APPEND);
	errno = e;
	if (r < 0)
		FAIL(s, "%s: cannot append %llu message(s)", s->name,
		    (unsigned long long)b->nrec);
	return 0;
}

static void
too_big(struct store *s, unsigned long long n, size_t len, uint64_t max)
{
	report(&s->h, STORE_WARN, 0, "%s: message %llu is %zu bytes, over the "
	    "limit of %llu bytes; not pushed", s->name, n, len,
	    (unsigned long long)max);
}

int
store_push_input(struct store *s, char **msgs, int n, int fd, int delim,
    uint64_t max, int sync)
{
	struct store_batch b = { 0 };
	struct io_records in;
	unsigned long long recno = 0;
	int64_t now = clock_wall();
	int i, t, r = 0;
	size_t len;
	char *rec;

	if (n > 0) {
		for (i = 0; i < n; i++)
			if ((len = strlen(msgs[i])) > max) {
				too_big(s, (unsigned long long)i + 1, len, max);
				r = -1;
			} else if (store_batch_add(&b, msgs[i], len, now) < 0)
				FAIL(s, "out of memory");
		if (store_push(s, &b, sync) < 0)
			r = -1;
		store_batch_free(&b);
		return r;
	}
	io_records_init(&in, fd, delim, (size_t)max);
	for (;;) {
		t = io_records_take(&in, &rec, &len);
		if (t == IO_REC || t == IO_TOOLONG)
			recno++;
		if (t == IO_TOOLONG) {
			too_big(s, recno, len, max);
			r = -1;
			continue;
		}
		if (t == IO_REC) {
			if (b.nrec == 0)
				now = clock_wall();
			if (store_batch_add(&b, rec, len, now) < 0) {
				report(&s->h, STORE_ERROR, errno, "out of "
				    "memory");
				r = -1;
				break;
			}
			if (b.len < STORE_FLUSH_AT)
				continue;
		}
		/* Everything read so far goes into the store before the
		 * next read may block: a slow producer's message is
		 * visible at once. */
		if (store_push(s, &b, sync) < 0)
			r = -1;
		store_batch_reset(&b);
		if (t == IO_EOF)
			break;
		if (io_records_fill(&in) < 0) {
			report(&s->h, STORE_ERROR, errno, "reading stdin");
			r = -1;
			break;
		}
	}
	io_records_free(&in);
	store_batch_free(&b);
	return r;
}

/* ---- consuming ---- */

static void
seg_unlink(struct store *s, uint64_t seg)
{
	char p[PATH_MAX + 32];

	seg_path(s, seg, p, sizeof(p));
	unlink(p);
}

/* Unlink the segments in [from, to): one by one when few, else those
 * the directory holds (a damaged position may span 2^63 numbers). */
static void
seg_unlink_range(struct store *s, uint64_t from, uint64_t to)
{
	struct dirent *de;
	unsigned long long v;
	char *end;
	DIR *d;

	if (to - from <= 64 || (d = opendir(s->path)) == NULL) {
		for (; from < to && to - from <= 64; from++)
			seg_unlink(s, from);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 20 ||
		    strcmp(de->d_name + 16, ".seg") != 0)
			continue;
		v = strtoull(de->d_name, &end, 16);
		if (end == de->d_name + 16 && v >= from && v < to)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* Make rbuf hold [off, off + need) of the head segment, reading ahead up
 * to `end`. Returns bytes available from off (may be < need at EOF), or
 * -1 with errno. */
static ssize_t
rd_fill(struct store *s, uint64_t off, size_t need, uint64_t end)
{
	size_t want, have;
	ssize_t n;
	char *p;

	if (off >= s->roff && off + need <= s->roff + s->rlen)
		return (ssize_t)(s->roff + s->rlen - off);
	want = need > READ_CHUNK ? need : READ_CHUNK;
	if (end != UINT64_MAX && off + want > end)
		want = (size_t)(end - off) > need ? (size_t)(end - off) : need;
	if (want > s->rcap) {
		if ((p = realloc(s->rbuf, want)) == NULL)
			return -1;
		s->rbuf = p;
		s->rcap = want;
	}
	for (have = 0; have < want; have += (size_t)n) {
		n = pread(s->rfd, s->rbuf + have, want - have,
		    (off_t)(off + have));
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0) {
			s->rlen = 0;
			return -1;
		}
		if (n == 0)
			break;
	}
	s->roff = off;
	s->rlen = have;
	return (ssize_t)have;
}

/* Open the head segment for reading. 1, 0 if it is missing, -1. */
static int
rd_open(struct store *s, uint64_t seg)
{
	char p[PATH_MAX + 32];
	int fd;

	if (s->rseg == seg)
		return 1;
	seg_path(s, seg, p, sizeof(p));
	if ((fd = open_retry(p, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			FAIL(s, "%s: cannot open %s", s->name, p);
		return 0;
	}
	if (s->rfd >= 0)
		close(s->rfd);
	s->rfd = fd;
	s->rseg = seg;
	s->rlen = 0;
	return 1;
}

/* The lowest segment number above seg present in the directory, or
 * limit if there is none below it. */
static uint64_t
seg_after(const struct store *s, uint64_t seg, uint64_t limit)
{
	struct dirent *de;
	unsigned long long v;
	uint64_t best = limit;
	char *end;
	DIR *d;

	if ((d = opendir(s->path)) == NULL)
		return limit;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 20 ||
		    strcmp(de->d_name + 16, ".seg") != 0)
			continue;
		v = strtoull(de->d_name, &end, 16);
		if (end == de->d_name + 16 && v > seg && v < best)
			best = v;
	}
	closedir(d);
	return best;
}

/* The record r at h (its whole length read, its CRC wrong) ends where a
 * sound record begins, or exactly at the committed tail end: then its
 * frame is sound and only its bytes are damaged. 1 or 0, -1 on a read
 * error (reported). The read window may move. */
static int
frame_sound(struct store *s, const struct pos *h, const struct rec *r,
    uint64_t end)
{
	uint64_t next = h->off + HDR + r->len;
	struct rec n;
	ssize_t have;

	if (end != UINT64_MAX && next == end)
		return 1;
	if ((have = rd_fill(s, next, HDR, end)) < 0)
		FAIL(s, "%s: read", s->name);
	if (have < HDR)
		return 0;
	memcpy(&n, s->rbuf + (next - s->roff), HDR);
	if (n.len > STORE_MSG_LIMIT || (end != UINT64_MAX &&
	    next + HDR + n.len > end))
		return 0;
	if ((have = rd_fill(s, next, HDR + n.len, end)) < 0)
		FAIL(s, "%s: read", s->name);
	if ((size_t)have < HDR + n.len)
		return 0;
	return rec_ok(&n, s->rbuf + (next - s->roff) + HDR);
}

/* Find the record at the head h, given the committed tail t; moves h
 * over finished segments and damaged records (reported): a record whose
 * CRC fails inside a sound frame (frame_sound) alone, else the rest of
 * its segment. Returns 1 with
 * the header in *r and its data in *data, 0 when the queue is empty, -1
 * on a read error (reported). */
static int
rd_next(struct store *s, struct pos *h, const struct pos *t, struct rec *r,
    char **data)
{
	uint64_t end;
	ssize_t have;
	const char *why;
	int o = 1;

	for (;;) {
		o = 1;
		if (h->seg > t->seg || (h->seg == t->seg && h->off >= t->off)) {
			/* Empty: also heals counts after skipped damage. */
			*h = *t;
			return 0;
		}
		end = h->seg == t->seg ? t->off : UINT64_MAX;
		if ((o = rd_open(s, h->seg)) < 0)
			return -1;
		if (o == 0) {
			why = "segment missing";
			goto skip;
		}
		if ((have = rd_fill(s, h->off, HDR, end)) < 0)
			FAIL(s, "%s: read", s->name);
		if (have < HDR) {
			if (h->seg < t->seg && have == 0) {
				h->seg++;
				h->off = 0;
				continue;
			}
			why = "short record";
			goto skip;
		}
		memcpy(r, s->rbuf + (h->off - s->roff), HDR);
		if (r->len > STORE_MSG_LIMIT || (end != UINT64_MAX &&
		    h->off + HDR + r->len > end)) {
			why = "bad length";
			goto skip;
		}
		if ((have = rd_fill(s, h->off, HDR + r->len, end)) < 0)
			FAIL(s, "%s: read", s->name);
		if ((size_t)have < HDR + r->len) {
			why = "short record";
			goto skip;
		}
		*data = s->rbuf + (h->off - s->roff) + HDR;
		if (!rec_ok(r, *data)) {
			if ((o = frame_sound(s, h, r, end)) < 0)
				return -1;
			if (o == 1) {
				/* Only the payload is bad: drop just it. */
				report(&s->h, STORE_WARN, 0, "%s: damaged "
				    "record at %016llx.seg offset %llu "
				    "(checksum mismatch); skipping that "
				    "record", s->name,
				    (unsigned long long)h->seg,
				    (unsigned long long)h->off);
				h->off += HDR + r->len;
				h->seq++;
				h->bytes += r->len;
				continue;
			}
			o = 1;
			why = "checksum mismatch";
			goto skip;
		}
		return 1;
skip:
		report(&s->h, STORE_WARN, 0, "%s: damaged record at "
		    "%016llx.seg offset %llu (%s); skipping the rest of that "
		    "segment", s->name, (unsigned long long)h->seg,
		    (unsigned long long)h->off, why);
		if (o == 0) {
			/* One report for a gap, however wide it is. */
			h->seg = seg_after(s, h->seg, t->seg);
			h->off = 0;
			if (h->seg >= t->seg)
				*h = *t;
		} else if (h->seg < t->seg) {
			h->seg++;
			h->off = 0;
		} else {
			*h = *t;
		}
	}
}

/* Commit the head h (HEAD held); unlink segments left behind. */
static void
head_set(struct store *s, const struct pos *h)
{
	struct pos old;

	HEAD_LOAD(s, &old);
	if (memcmp(&old, h, sizeof(old)) == 0)
		return;
	HEAD_STORE(s, h);
	if (old.seg < h->seg)
		seg_unlink_range(s, old.seg, h->seg);
}

/* HEAD and APPEND held, the queue empty at tail t: move head and tail
 * to the start of the next segment, made empty first, and unlink the
 * old one (if the new one cannot be made, empty the old in place:
 * positions first, then the truncate; a kill between leaves old bytes
 * beyond the tail, as a torn write does). Every holder of HEAD drops its
 * read window when it takes the lock, so no one reads old bytes
 * again. */
static void
tail_empty(struct store *s, struct pos *t)
{
	char p[PATH_MAX + 32];
	uint64_t old = t->seg;
	int fd;

	if (t->off == 0)
		return;
	/* A new, empty segment, so that no old record ever lies at the
	 * tail: tail_recover may read there after a crash. */
	seg_path(s, old + 1, p, sizeof(p));
	fd = open_retry(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		t->seg++;
	}
	t->off = 0;
	TAIL_STORE(s, t);
	HEAD_STORE(s, t);
	seg_path(s, old, p, sizeof(p));
	if (fd >= 0)
		unlink(p);
	else
		truncate(p, 0);	/* no new file: empty the old in place */
	s->rlen = 0;
}

/* HEAD held, the queue found empty at h: a tail segment of some size
 * gives its space back, unless a producer is at work. Small ones stay,
 * so a consumer that keeps up with its producer truncates seldom. */
static void
tail_roll(struct store *s, const struct pos *h)
{
	struct pos t;

	TAIL_LOAD(s, &t);
	if (t.seq != h->seq || t.off < ROLL_EMPTY || s->rdonly)
		return;
	if (fcntl(s->sfd, F_SETLK, &(struct flock){ .l_type = F_WRLCK,
	    .l_whence = SEEK_SET, .l_start = LK_APPEND, .l_len = 1 }) < 0)
		return;		/* a producer is busy: it is not empty */
	TAIL_LOAD(s, &t);
	if (t.seq == h->seq)
		tail_empty(s, &t);
	unlock(s, LK_APPEND);
}

static int
lease_dirfd(const struct store *s)
{
	char p[PATH_MAX + 8];

	snprintf(p, sizeof(p), "%s/lease", s->path);
	return open_retry(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Read a whole lease file (header, data, delimiter); 0, or -1 with
 * errno ENODATA for a lease its maker did not finish (shorter than its
 * header or than the length that header gives: the maker was killed
 * between creating it and taking the message, which is still queued),
 * or another errno for damage. */
static int
lease_read(int fd, struct rec *r, char **data)
{
	struct stat sb;
	char *buf;

	if (fstat(fd, &sb) < 0)
		return -1;
	if (sb.st_size < HDR) {
		errno = ENODATA;
		return -1;
	}
	errno = EBADMSG;
	if ((uint64_t)sb.st_size > STORE_MSG_LIMIT + HDR + 1)
		return -1;
	if ((buf = malloc((size_t)sb.st_size)) == NULL)
		return -1;
	if (io_read_full(fd, buf, (size_t)sb.st_size) != sb.st_size)
		goto bad;
	memcpy(r, buf, HDR);
	errno = (uint64_t)r->len + HDR + 1 > (uint64_t)sb.st_size &&
	    r->len <= STORE_MSG_LIMIT ? ENODATA : EBADMSG;
	if ((uint64_t)r->len + HDR > (uint64_t)sb.st_size ||
	    !rec_ok(r, buf + HDR))
		goto bad;
	*data = buf;
	return 0;
bad:
	free(buf);
	return -1;
}

/* A delayed message's ".new." file that nobody holds and that is a
 * minute old: its maker was killed before the rename that would have
 * made it a message (that push never succeeded). Remove it. */
static void
new_sweep(struct store *s, int dfd, const char *name)
{
	struct flock fl;
	struct stat sb;
	int fd;

	if (strncmp(name, ".new.", 5) != 0 ||
	    (fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_RDLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == 0 && fstat(fd, &sb) == 0 &&
	    S_ISREG(sb.st_mode) && sb.st_nlink == 1 &&
	    (int64_t)sb.st_mtime * NS_PER_SEC < clock_wall() - 60 * NS_PER_SEC) {
		unlinkat(dfd, name, 0);
		report(&s->h, STORE_VERBOSE, 0, "%s: removed %s, left by a "
		    "push that was killed", s->name, name);
	}
	close(fd);
}

/* Give back the leases whose holders died. Caller holds HEAD. Returns
 * how many came back, or -1 (EINTR). */
static int
lease_reclaim(struct store *s)
{
	struct store_batch b = { 0 };
	struct dirent *de;
	struct flock fl;
	struct stat sb;
	struct rec r;
	char *buf, *at, *dot, self[24];
	int64_t now, due;
	DIR *d;
	int dfd, fd, n = 0, ok;

	snprintf(self, sizeof(self), "%ld", (long)getpid());

	if ((dfd = lease_dirfd(s)) < 0)
		return 0;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return 0;
	}
	now = clock_wall();
	s->next_due = INT64_MAX;
	s->scanned = clock_mono();
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.') {
			new_sweep(s, dfd, de->d_name);
			continue;
		}
		if ((at = strchr(de->d_name, '@')) != NULL &&
		    (due = (int64_t)strtoull(at + 1, NULL, 16)) > now) {
			if (due < s->next_due)
				s->next_due = due;
			continue;	/* delayed, not yet due */
		}
		fd = openat_retry(dfd, de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* Our own (a runner may hold many): an fcntl lock never
		 * conflicts with its own process's, so the test below
		 * would take them for a dead holder's. One made before
		 * we opened the queue is a dead namesake's (pid reuse). */
		if (at == NULL && (dot = strchr(de->d_name, '.')) != NULL &&
		    strcmp(dot + 1, self) == 0 && fstat(fd, &sb) == 0 &&
		    (sb.st_mtim.tv_sec > s->opened.tv_sec ||
		    (sb.st_mtim.tv_sec == s->opened.tv_sec &&
		    sb.st_mtim.tv_nsec >= s->opened.tv_nsec))) {
			close(fd);
			continue;
		}
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_RDLCK;
		fl.l_whence = SEEK_SET;
		/* Held (the holder lives), or unlinked by a finished
		 * holder after we opened it: not ours to give back. */
		if (fcntl(fd, F_SETLK, &fl) < 0 || fstat(fd, &sb) < 0 ||
		    sb.st_nlink == 0) {
			close(fd);
			continue;
		}
		if (lease_read(fd, &r, &buf) == 0) {
			store_batch_reset(&b);
			ok = batch_put(&b, buf + HDR, r.len, r.id, r.time,
			    r.attempt + 1) == 0;
			free(buf);
			if (!ok || store_push(s, &b, 0) < 0) {
				close(fd);
				if (errno == EINTR) {
					n = -1;
					break;
				}
				continue;	/* it stays: next time */
			}
			n++;
			report(&s->h, STORE_VERBOSE, 0, "%s: gave back message "
			    "%llu of a dead holder", s->name,
			    (unsigned long long)r.id);
		} else if (errno == ENODATA) {
			/* Its message was never taken (store_lease acks
			 * only after the whole write): nothing is lost. */
			report(&s->h, STORE_VERBOSE, 0, "%s: removed the "
			    "unfinished lease %s of a dead holder", s->name,
			    de->d_name);
		} else {
			report(&s->h, STORE_WARN, 0, "%s: damaged lease %s "
			    "removed", s->name, de->d_name);
		}
		unlinkat(dfd, de->d_name, 0);
		close(fd);
	}
	closedir(d);
	store_batch_free(&b);
	if (n < 0)
		errno = EINTR;
	return n;
}

static void
msg_fill(struct store_msg *m, const struct rec *r, const char *data,
    const struct pos *h)
{
	m->id = r->id;
	m->time = r->time;
	m->attempt = r->attempt;
	m->len = r->len;
	m->data = data;
	m->pos[0] = h->seg;
	m->pos[1] = h->off;
	m->pos[2] = h->seq;
	m->pos[3] = h->bytes;
}

int
store_take(struct store *s, struct store_msg *m)
{
	struct pos h, t;
	struct rec r;
	char *data;
	int n;

	for (;;) {
		if (s->held && ++s->hold >= HOLD_MAX)
			store_release(s);	/* let other consumers in */
		if (!s->held) {
			if (lock(s, LK_HEAD, F_WRLCK) < 0)
				return -1;
			s->held = 1;
			s->hold = 0;
			s->rlen = 0;	/* see tail_empty */
			/* A busy queue is never empty: look for delayed
			 * messages that came due (and others' new ones
			 * once a second) while it is not. */
			if ((clock_wall() >= s->next_due || clock_mono() -
			    s->scanned > NS_PER_SEC) && lease_reclaim(s) < 0)
				goto fail;
		}
		HEAD_LOAD(s, &h);
		TAIL_LOAD(s, &t);
		if ((n = rd_next(s, &h, &t, &r, &data)) != 0)
			goto out;
		/* A producer's data event may come before its commit:
		 * wait out any commit in progress, then look again. */
		if (lock(s, LK_APPEND, F_RDLCK) < 0)
			goto fail;
		unlock(s, LK_APPEND);
		TAIL_LOAD(s, &t);
		if ((n = rd_next(s, &h, &t, &r, &data)) != 0)
			goto out;
		head_set(s, &h);
		tail_roll(s, &h);
		if ((n = lease_reclaim(s)) > 0)
			continue;
		if (n < 0)
			goto fail;
		store_release(s);
		return 0;
	}
out:
	if (n < 0)
		goto fail;
	msg_fill(m, &r, data, &h);
	return 1;
fail:
	n = errno;
	store_release(s);
	errno = n;
	return -1;
}

int
store_take_next(struct store *s, const struct store_msg *m,
    struct store_msg *next)
{
	struct pos h = { m->pos[0], m->pos[1] + HDR + m->len, m->pos[2] + 1,
	    m->pos[3] + m->len }, t;
	struct rec r;
	char *data;
	int n;

	TAIL_LOAD(s, &t);
	if ((n = rd_next(s, &h, &t, &r, &data)) != 1)
		return n;
	s->hold++;
	msg_fill(next, &r, data, &h);
	return 1;
}

int
store_ack(struct store *s, const struct store_msg *m)
{
	struct pos h = { m->pos[0], m->pos[1], m->pos[2], m->pos[3] };

	h.off += HDR + m->len;
	h.seq++;
	h.bytes += m->len;
	head_set(s, &h);
	tail_roll(s, &h);
	return 0;
}

void
store_release(struct store *s)
{
	if (s->held)
		unlock(s, LK_HEAD);
	s->held = s->hold = 0;
}

int
store_peek(struct store *s, struct store_msg *m)
{
	struct pos h, t;
	struct rec r;
	char *data;
	int n, e;

	if (lock(s, LK_HEAD, F_RDLCK) < 0)
		return -1;
	s->rlen = 0;
	HEAD_LOAD(s, &h);
	TAIL_LOAD(s, &t);
	n = rd_next(s, &h, &t, &r, &data);
	e = errno;
	unlock(s, LK_HEAD);
	if (n == 1)
		msg_fill(m, &r, data, &h);
	errno = e;
	return n;
}

/* ---- waiting ---- */

int
store_watch(struct store *s)
{
	char p[PATH_MAX + 8];

	if (s->watch >= 0)
		return s->watch;
	snprintf(p, sizeof(p), "%s/lease", s->path);
	if ((s->watch = watch_open()) < 0 ||
	    watch_add(s->watch, s->path, WATCH_DATA) < 0 ||
	    watch_add(s->watch, p, WATCH_CLOSE) < 0) {
		/* Out of inotify instances or watches (a per-user limit):
		 * the caller degrades to looking every 10 ms. */
		report(&s->h, STORE_WARN, errno, "%s: cannot watch the queue, "
		    "polling instead", s->name);
		if (s->watch >= 0)
			close(s->watch);
		s->watch = -1;
	}
	return s->watch;
}

void
store_watch_drain(struct store *s)
{
	if (s->watch >= 0)
		watch_drain(s->watch);
}

/* ---- leases ---- */

int
store_lease(struct store *s, const struct store_msg *m, int delim,
    struct store_lease *l)
{
	struct flock fl;
	struct iovec iov[3];
	struct rec r;
	char d = (char)delim, p[PATH_MAX + 64];
	int e;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	snprintf(p, sizeof(p), "%s/lease/%llu.%ld", s->path,
	    (unsigned long long)m->id, (long)getpid());
	if ((l->path = strdup(p)) == NULL ||
	    (l->data = malloc(m->len + 1)) == NULL)
		goto fail;
	memcpy(l->data, m->data, m->len);
	l->m = *m;
	l->m.data = l->data;
	if ((l->fd = open_retry(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0) {
		e = errno;
		report(&s->h, STORE_ERROR, e, "%s: cannot create lease %s",
		    s->name, p);
		goto quiet;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(l->fd, F_SETLK, &fl) < 0) {
		e = errno;
		report(&s->h, STORE_ERROR, e, "%s: cannot lock lease %s",
		    s->name, p);
		goto unlink;
	}
	memset(&r, 0, sizeof(r));
	r.len = m->len;
	r.id = m->id;
	r.time = m->time;
	r.attempt = m->attempt;
	r.crc = crc_final(crc_partial(&r, m->data), r.id);
	iov[0].iov_base = &r;
	iov[0].iov_len = HDR;
	iov[1].iov_base = l->data;
	iov[1].iov_len = m->len;
	iov[2].iov_base = &d;
	iov[2].iov_len = 1;
	if (writev(l->fd, iov, 3) != (ssize_t)(HDR + m->len + 1) ||
	    lseek(l->fd, HDR, SEEK_SET) < 0) {
		e = errno ? errno : ENOSPC;
		report(&s->h, STORE_ERROR, e, "%s: cannot write lease %s",
		    s->name, p);
		goto unlink;
	}
	store_ack(s, m);
	store_release(s);
	return 0;
fail:
	e = errno;
	report(&s->h, STORE_ERROR, e, "out of memory");
	goto quiet;
unlink:
	unlink(p);
quiet:
	if (l->fd >= 0)
		close(l->fd);
	free(l->path);
	free(l->data);
	store_release(s);
	errno = e;
	return -1;
}

static void
lease_free(struct store_lease *l)
{
	if (l->fd >= 0)
		close(l->fd);
	free(l->path);
	free(l->data);
	l->fd = -1;
	l->path = l->data = NULL;
}

void
store_done(struct store *s, struct store_lease *l)
{
	(void)s;
	/* Unlink before close: a reclaimer that opened the lease
	 * meanwhile sees it unlinked and leaves it alone. */
	unlink(l->path);
	lease_free(l);
}

/* Append b to the dead-letter log. 0, or -1 (reported). */
static int
dead_append(struct store *s, struct store_batch *b)
{
	char p[PATH_MAX + 8];
	uint64_t len;
	int fd, r = -1, e;

	snprintf(p, sizeof(p), "%s/dead", s->path);
	if (lock(s, LK_DEAD, F_WRLCK) < 0)
		return -1;
	len = atomic_load(&s->st->dead_len);
	batch_seal(b, 0);
	errno = 0;
	if ((fd = open_retry(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0 &&
	    pwrite(fd, b->buf, b->len, (off_t)len) == (ssize_t)b->len) {
		atomic_store(&s->st->dead_len, len + b->len);
		r = 0;
	}
	e = errno ? errno : ENOSPC;
	if (fd >= 0)
		close(fd);
	unlock(s, LK_DEAD);
	if (r < 0) {
		errno = e;
		FAIL(s, "%s: cannot write the dead-letter list", s->name);
	}
	return 0;
}

/* The dead letter of l with its note: message and note as one payload,
 * F_NOTE and the note's length in flags (so old dead letters, flags 0,
 * read as they are). 0, or -1 with errno ENOMEM. */
static int
note_put(struct store_batch *b, const struct store_lease *l)
{
	size_t nl = l->notelen > STORE_NOTE_MAX ? STORE_NOTE_MAX : l->notelen;
	size_t off = b->len;
	struct rec r;
	char *p;

	if ((p = malloc(l->m.len + nl)) == NULL)
		return -1;
	memcpy(p, l->data, l->m.len);
	memcpy(p + l->m.len, l->note + (l->notelen - nl), nl);
	if (batch_put(b, p, l->m.len + nl, l->m.id, l->m.time,
	    l->m.attempt) < 0) {
		free(p);
		return -1;
	}
	memcpy(&r, b->buf + off, HDR);
	r.flags = F_NOTE | (uint32_t)nl;
	r.crc = 0;
	r.crc = crc_partial(&r, p);	/* finished by batch_seal */
	memcpy(b->buf + off, &r, HDR);
	free(p);
	return 0;
}

int
store_settle(struct store *s, struct store_lease *l, int how)
{
	struct store_batch b = { 0 };
	uint32_t a = l->m.attempt + (how == STORE_AGAIN ? 1 : 0);
	int r;

	if (how == STORE_DEAD && l->notelen > 0) {
		r = note_put(&b, l);
	} else
		r = batch_put(&b, l->data, l->m.len, l->m.id, l->m.time, a);
	if (r < 0) {
		report(&s->h, STORE_ERROR, errno, "out of memory");
		r = -1;
	} else if (how == STORE_DEAD) {
		r = dead_append(s, &b);
	} else {
		r = store_push(s, &b, 0);
	}
	store_batch_free(&b);
	if (r == 0)
		unlink(l->path);
	lease_free(l);
	return r;
}

int
store_settle_delay(struct store *s, struct store_lease *l, int64_t due)
{
	char p[PATH_MAX + 64];
	int r = 0;

	snprintf(p, sizeof(p), "%s/lease/%llu.@%016llx", s->path,
	    (unsigned long long)l->m.id, (unsigned long long)due);
	/* Still locked by us until lease_free closes it: no reclaimer
	 * takes it before we are done. */
	if (rename(l->path, p) < 0) {
		report(&s->h, STORE_WARN, errno, "%s: cannot delay message "
		    "%llu; it comes back at once", s->name,
		    (unsigned long long)l->m.id);
		r = -1;
	}
	lease_free(l);
	return r;
}

int64_t
store_next_due(const struct store *s)
{
	return s->next_due == INT64_MAX ? -1 : s->next_due;
}

/* ---- stat, purge, dead letters ---- */

/* The lease files: held ones (delayed 0) or delayed ones (1). */
static int
count_leases(const struct store *s, int delayed)
{
	struct dirent *de;
	DIR *d;
	int fd, n = 0;

	if ((fd = lease_dirfd(s)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    (strchr(de->d_name, '@') != NULL) == delayed)
			n++;
	closedir(d);
	return n;
}

/* Walk the dead-letter log (DEAD held): fn gets each intact record.
 * Returns the number of records. */
static uint64_t
dead_scan(struct store *s, int (*fn)(void *, const struct rec *,
    const char *), void *arg)
{
	char p[PATH_MAX + 8], *buf = NULL, *nb;
	uint64_t off = 0, end, n = 0;
	size_t cap = 0;
	struct rec r;
	int fd;

	end = atomic_load(&s->st->dead_len);
	snprintf(p, sizeof(p), "%s/dead", s->path);
	if (end == 0 || (fd = open_retry(p, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	while (off + HDR <= end) {
		if (pread(fd, &r, HDR, (off_t)off) != HDR ||
		    off + HDR + r.len > end)
			break;
		if (fn != NULL) {
			if (cap < (size_t)r.len + 1) {
				if ((nb = realloc(buf, r.len + 1)) == NULL)
					break;
				buf = nb;
				cap = (size_t)r.len + 1;
			}
			if (pread(fd, buf, r.len, (off_t)(off + HDR)) !=
			    (ssize_t)r.len)
				break;
			if (!rec_ok(&r, buf))
				report(&s->h, STORE_WARN, 0, "%s: damaged dead "
				    "letter at offset %llu skipped", s->name,
				    (unsigned long long)off);
			else if (fn(arg, &r, buf) < 0) {
				off = end;
				break;
			}
		}
		off += HDR + r.len;
		n++;
	}
	if (off != end)
		report(&s->h, STORE_WARN, 0, "%s: dead-letter list damaged "
		    "after offset %llu", s->name, (unsigned long long)off);
	free(buf);
	close(fd);
	return n;
}

int
store_stat(struct store *s, struct store_stat *st)
{
	struct store_msg m;
	struct pos h, t;

	HEAD_LOAD(s, &h);
	TAIL_LOAD(s, &t);
	st->length = t.seq - h.seq;
	st->bytes = t.bytes - h.bytes;
	st->oldest = -1;
	if (store_peek(s, &m) == 1)
		st->oldest = m.time;
	if (lock(s, LK_DEAD, F_RDLCK) < 0)
		return -1;
	st->dead = dead_scan(s, NULL, NULL);
	unlock(s, LK_DEAD);
	st->inflight = (uint64_t)count_leases(s, 0);
	st->delayed = (uint64_t)count_leases(s, 1);
	return 0;
}

uint64_t
store_len(struct store *s)
{
	struct pos h, t;

	HEAD_LOAD(s, &h);
	TAIL_LOAD(s, &t);
	return t.seq - h.seq;
}

static void
dead_truncate(struct store *s)
{
	char p[PATH_MAX + 8];

	snprintf(p, sizeof(p), "%s/dead", s->path);
	atomic_store(&s->st->dead_len, 0);
	truncate(p, 0);
}

/* Remove the delayed messages (lease/ *@*); held leases stay. */
static void
delayed_unlink(struct store *s)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = lease_dirfd(s)) < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strchr(de->d_name, '@') != NULL)
			unlinkat(fd, de->d_name, 0);
	closedir(d);
}

int
store_purge(struct store *s)
{
	struct pos h, t;

	if (lock(s, LK_DEAD, F_WRLCK) < 0)
		return -1;
	if (lock(s, LK_HEAD, F_WRLCK) < 0) {
		unlock(s, LK_DEAD);
		return -1;
	}
	if (lock(s, LK_APPEND, F_WRLCK) < 0) {
		unlock(s, LK_HEAD);
		unlock(s, LK_DEAD);
		return -1;
	}
	HEAD_LOAD(s, &h);
	TAIL_LOAD(s, &t);
	HEAD_STORE(s, &t);
	if (h.seg < t.seg)
		seg_unlink_range(s, h.seg, t.seg);
	tail_empty(s, &t);	/* a purge gives the disk space back */
	dead_truncate(s);
	delayed_unlink(s);
	unlock(s, LK_APPEND);
	unlock(s, LK_HEAD);
	unlock(s, LK_DEAD);
	return 0;
}

struct walk {
	int (*fn)(void *, const char *, size_t);
	int (*list)(void *, const struct store_dead *);
	void *arg;
	struct store *s;
	struct store_batch b;
	int failed;
};

static int
walk_one(void *arg, const struct rec *r, const char *data)
{
	struct walk *w = arg;
	struct store_dead d;
	int k;

	d.data = data;
	d.len = r->len - NOTE_LEN(r);
	d.note = data + d.len;
	d.notelen = NOTE_LEN(r);
	d.id = r->id;
	d.time = r->time;
	d.attempt = r->attempt;
	k = w->list != NULL ? w->list(w->arg, &d) : w->fn(w->arg, data, d.len);
	if (k < 0) {
		w->failed = 1;
		return -1;
	}
	return 0;
}

size_t
store_note_make(char *buf, size_t size, int64_t time, int wstatus,
    const char *tail, size_t taillen)
{
	int n;

	n = snprintf(buf, size, "%lld %s %d\n", (long long)time,
	    WIFSIGNALED(wstatus) ? "signal" : "exit", WIFSIGNALED(wstatus) ?
	    WTERMSIG(wstatus) : WEXITSTATUS(wstatus));
	if (n < 0 || (size_t)n >= size)
		return 0;
	if (taillen > size - (size_t)n)
		taillen = size - (size_t)n;
	memcpy(buf + n, tail, taillen);
	return (size_t)n + taillen;
}

int
store_note_parse(const struct store_dead *d, struct store_note *n)
{
	char first[64], how[16];
	const char *e;
	long long t;

	memset(n, 0, sizeof(*n));
	if (d->notelen == 0 ||
	    (e = memchr(d->note, '\n', d->notelen)) == NULL ||
	    (size_t)(e - d->note) >= sizeof(first))
		return -1;
	memcpy(first, d->note, (size_t)(e - d->note));
	first[e - d->note] = '\0';
	if (sscanf(first, "%lld %15s %d", &t, how, &n->status) != 3)
		return -1;
	n->time = t;
	n->signaled = strcmp(how, "signal") == 0;
	n->tail = e + 1;
	n->taillen = d->notelen - (size_t)(e + 1 - d->note);
	return 0;
}

int
store_dead_list(struct store *s,
    int (*fn)(void *arg, const struct store_dead *d), void *arg)
{
	struct walk w = { .list = fn, .arg = arg };

	if (lock(s, LK_DEAD, F_RDLCK) < 0)
		return -1;
	dead_scan(s, walk_one, &w);
	unlock(s, LK_DEAD);
	return w.failed ? -1 : 0;
}

int
store_dead_walk(struct store *s,
    int (*fn)(void *arg, const char *data, size_t len), void *arg)
{
	struct walk w = { .fn = fn, .arg = arg };

	if (lock(s, LK_DEAD, F_RDLCK) < 0)
		return -1;
	dead_scan(s, walk_one, &w);
	unlock(s, LK_DEAD);
	return w.failed ? -1 : 0;
}

static int
requeue_one(void *arg, const struct rec *r, const char *data)
{
	struct walk *w = arg;

	if (batch_put(&w->b, data, r->len - NOTE_LEN(r), r->id, r->time,
	    1) < 0) {
		w->failed = 1;
		return -1;
	}
	if (w->b.len >= STORE_FLUSH_AT) {
		if (store_push(w->s, &w->b, 0) < 0) {
			w->failed = 1;
			return -1;
		}
		store_batch_reset(&w->b);
	}
	return 0;
}

int
store_dead_requeue(struct store *s)
{
	struct walk w = { .s = s };

	if (lock(s, LK_DEAD, F_WRLCK) < 0)
		return -1;
	dead_scan(s, requeue_one, &w);
	if (!w.failed && store_push(s, &w.b, 0) < 0)
		w.failed = 1;
	if (!w.failed)
		dead_truncate(s);
	unlock(s, LK_DEAD);
	store_batch_free(&w.b);
	return w.failed ? -1 : 0;
}

/* ---- repair ---- */

/* Intact records of one segment from offset 0: the end of the last one
 * in *end, their count and bytes added, the highest id kept. */
static void
fsck_segment(int fd, uint64_t *end, uint64_t *n, uint64_t *bytes,
    uint64_t *maxid)
{
	struct stat sb;
	struct rec r;
	uint64_t off = 0;
	char *buf;

	*end = 0;
	if (fstat(fd, &sb) < 0)
		return;
	while (off + HDR <= (uint64_t)sb.st_size) {
		if (pread(fd, &r, HDR, (off_t)off) != HDR ||
		    r.len > STORE_MSG_LIMIT ||
		    off + HDR + r.len > (uint64_t)sb.st_size ||
		    (buf = malloc(r.len + 1)) == NULL)
			break;
		if (pread(fd, buf, r.len, (off_t)(off + HDR)) !=
		    (ssize_t)r.len || !rec_ok(&r, buf)) {
			free(buf);
			break;
		}
		free(buf);
		off += HDR + r.len;
		(*n)++;
		*bytes += r.len;
		if (r.id > *maxid)
			*maxid = r.id;
		*end = off;
	}
}

long long
store_fsck(const char *path, const struct store_hooks *h)
{
	struct store *s;
	struct pos hd, tl;
	uint64_t nseg, lo, hi, seg, end = 0, n = 0, bytes = 0, maxid = 0;
	uint64_t dlen = 0, dn = 0, db = 0, did = 0;
	char p[PATH_MAX + 32];
	int fd, e;

	crc_init();
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	if (h != NULL)
		s->h = *h;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->name = h != NULL && h->name != NULL ? h->name : s->path;
	s->wfd = s->rfd = s->watch = -1;
	snprintf(p, sizeof(p), "%s/state", path);
	if ((s->sfd = open_retry(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) < 0) {
		e = errno;
		report(&s->h, STORE_ERROR, e, "%s: cannot open %s", s->name,
		    p);
		goto fail;
	}
	if (lock(s, LK_DEAD, F_WRLCK) < 0 || lock(s, LK_HEAD, F_WRLCK) < 0 ||
	    lock(s, LK_APPEND, F_WRLCK) < 0)
		goto fail;
	if ((e = posix_fallocate(s->sfd, 0, STATE_SIZE)) != 0 ||
	    (s->st = mmap(NULL, STATE_SIZE, PROT_READ | PROT_WRITE,
	    MAP_SHARED, s->sfd, 0)) == MAP_FAILED) {
		e = e ? e : errno;
		s->st = NULL;
		report(&s->h, STORE_ERROR, e, "%s: cannot map %s", s->name, p);
		goto fail;
	}
	if (memcmp(s->st->magic, STATE_MAGIC, 8) == 0 &&
	    check_positions(s) == NULL) {
		/* Sound: a rebuild would only bring consumed records of
		 * the head's segment back. */
		report(&s->h, STORE_NOTICE, 0, "%s: state is sound; nothing "
		    "to repair", s->name);
		n = store_len(s);
		store_close(s);
		return (long long)n;
	}
	if (seg_scan(path, &nseg, &lo, &hi) < 0) {
		e = errno;
		report(&s->h, STORE_ERROR, e, "%s: cannot read", s->name);
		goto fail;
	}
	for (seg = lo; nseg > 0 && seg <= hi; seg++) {
		seg_path(s, seg, p, sizeof(p));
		if ((fd = open_retry(p, O_RDONLY | O_CLOEXEC)) < 0) {
			seg = seg_after(s, seg, hi) - 1;  /* jump a gap */
			continue;
		}
		fsck_segment(fd, &end, &n, &bytes, &maxid);
		close(fd);
	}
	memset(&hd, 0, sizeof(hd));
	tl = hd;
	if (n == 0) {
		hd.seg = tl.seg = nseg > 0 ? hi + 1 : 0;
	} else {
		hd.seg = lo;
		tl.seg = hi;
		tl.off = end;
		tl.seq = maxid > n ? maxid : n;
		hd.seq = tl.seq - n;
		tl.bytes = bytes;
	}
	snprintf(p, sizeof(p), "%s/dead", path);
	if ((fd = open_retry(p, O_RDONLY | O_CLOEXEC)) >= 0) {
		fsck_segment(fd, &dlen, &dn, &db, &did);
		close(fd);
	}
	memcpy(s->st->magic, STATE_MAGIC, 8);
	s->st->version = 1;
	/* Both slots of each: the rebuilt positions may lie behind the
	 * old ones, which must not pass for newer. */
	HEAD_STORE(s, &hd);
	HEAD_STORE(s, &hd);
	TAIL_STORE(s, &tl);
	TAIL_STORE(s, &tl);
	atomic_store(&s->st->dead_len, dlen);
	msync(s->st, STATE_SIZE, MS_SYNC);
	report(&s->h, STORE_NOTICE, 0, "%s: state rebuilt: %llu message(s) "
	    "in %llu segment(s), %llu dead letter(s)", s->name,
	    (unsigned long long)n, (unsigned long long)nseg,
	    (unsigned long long)dn);
	store_close(s);
	return (long long)n;
fail:
	store_close(s);
	return -1;
}
