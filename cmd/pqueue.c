/*
 * pqueue: a durable message queue in a directory, for shell scripts; and
 * System V message queues (sysv:KEY[:TYPE]) for programs that use them.
 *
 * Store. A queue is a directory (0700) holding:
 *   state          4 KiB, shared with mmap: the committed tail and head
 *                  positions, the dead-letter length, and the lock bytes
 *   SSSS.seg       append-only log segments (SSSS: 16 hex digits, counting
 *                  up); a writer rolls to the next segment past 64 MiB
 *   dead           dead-letter log, same record format
 *   lease/ID.PID   one message leased by `run`, write-locked by its holder
 * A record is a 32-byte header { u32 len, u32 crc32c, u64 id, i64 push
 * time (ns), u32 attempt, u32 flags } in host byte order, then len bytes.
 * The CRC covers the header fields but crc, then the data, then the id.
 * A position is { segment, offset, seq, bytes }: seq counts records and
 * bytes payload since the queue was made, so length = tail.seq - head.seq.
 *
 * Commit. Each position is stored twice in `state` with a generation
 * counter; a writer fills the slot the counter does not point at, then
 * bumps the counter with one 8-byte store, so a kill -9 at any instant
 * leaves the old or the new position, never a mix (readers use it as a
 * seqlock). Producers pwrite whole batches of records at the tail and
 * then commit the tail: a torn write lies beyond the tail, is never
 * read, and is overwritten by the next writer; rolling to a new segment
 * first truncates the old one at its tail. Consumers read only up to the
 * committed tail, check every CRC (a bad record, possible only after a
 * power loss, is reported and skipped), write one message to stdout, and
 * then commit the head past it: a kill between the two repeats that one
 * message. Segments behind the head are unlinked.
 *
 * Locks are fcntl record locks on single bytes of `state`, released by
 * the kernel when their holder dies: DEAD (byte 2) before HEAD (byte 1)
 * before APPEND (byte 0); producers take APPEND only, consumers HEAD.
 *
 * Waiting. A blocked consumer watches the directory (and lease/) before
 * its first look. The data write's event comes before the commit, so a
 * consumer that finds the queue empty takes and drops APPEND, which
 * waits out any commit in progress, and looks again before it sleeps.
 *
 * Leases. `run` writes the record to lease/ID.PID and locks it while
 * holding HEAD, then commits the head. On exit 0 it unlinks the lease; on
 * failure it appends the record again with attempt + 1, or to `dead`.
 * A consumer that finds the queue empty, or sees a lease closed, tries to
 * read-lock each lease: success means the holder died, and the record
 * goes back to the tail with attempt + 1.
 *
 * Durability. A message counts once write(2) returned: it survives kill -9
 * of anyone. With --sync, push also fdatasyncs the segment (and fsyncs the
 * directory for a new segment) and msyncs `state` before it succeeds, so
 * the message survives power loss.
 *
 * Signals. TERM, INT and HUP make pop and run stop between messages (a
 * running COMMAND is waited for); push keeps the default actions, since
 * dying anywhere is safe.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "msg.h"
#include "parse.h"
#include "queue.h"
#include "spawn.h"

#define STATE_SIZE	4096
#define STATE_MAGIC	"PQUEUE1"
#define SEG_MAX		(64ULL << 20)	/* roll to a new segment past this */
#define MSG_LIMIT	(1ULL << 30)	/* largest --max-size */
#define HDR		32
#define READ_CHUNK	(64 * 1024)
#define FLUSH_AT	(1 << 20)	/* push writes a batch at this size */
#define HOLD_MAX	256		/* messages per hold of HEAD */

enum { LK_APPEND = 0, LK_HEAD = 1, LK_DEAD = 2 };

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
	char pad1[40];
	_Atomic uint64_t tail_gen;
	struct slot tail[2];
	char pad2[56];
	_Atomic uint64_t head_gen;
	struct slot head[2];
};

struct q {
	char path[PATH_MAX];
	const char *name;	/* as given, for messages and PQUEUE_QUEUE */
	int sfd;		/* state */
	struct state *st;
	int wfd;		/* tail segment open for writing */
	uint64_t wseg;
	int rfd;		/* head segment open for reading */
	uint64_t rseg;
	char *rbuf;		/* window of the head segment */
	size_t rcap, rlen;
	uint64_t roff;		/* file offset of rbuf[0] */
	int watch;		/* -1 unless this consumer may block */
	int in_tmp;		/* named, under the shared /tmp fallback */
};

/* A batch of framed records waiting for one pwrite. */
struct batch {
	char *buf;
	size_t len, cap;
	uint64_t nrec, nbytes;
};

static const char *qdir;	/* -d */
static int delim = '\n';
/* Bytes stdout takes without blocking after poll said POLLOUT: a free
 * pipe slot holds a page, a tty a few hundred bytes; 0 for files and
 * /dev/null, which never block. out_since counts bytes since then. */
static size_t out_room, out_since;

/* CRC-32C (Castagnoli), sliced by 8 on little-endian hosts. */
static uint32_t crc_table[8][256];

/* TERM, INT or HUP asked pop -f / run -f to stop between messages. */
static volatile sig_atomic_t stopping;
static int stop_status = 1;	/* exit status when stopped while waiting */

static void
crc_init(void)
{
	uint32_t c;
	int i, k;

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

static void *
xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		die(1, "out of memory");
	return p;
}

static void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL)
		die(1, "out of memory");
	return p;
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

#define TAIL_LOAD(q, p)  pos_load(&(q)->st->tail_gen, (q)->st->tail, (p))
#define TAIL_STORE(q, p) pos_store(&(q)->st->tail_gen, (q)->st->tail, (p))
#define HEAD_LOAD(q, p)  pos_load(&(q)->st->head_gen, (q)->st->head, (p))
#define HEAD_STORE(q, p) pos_store(&(q)->st->head_gen, (q)->st->head, (p))

/* ---- locks ---- */

static int
lock_byte(int fd, int byte, int type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = (short)type;
	fl.l_whence = SEEK_SET;
	fl.l_start = byte;
	fl.l_len = 1;
	while (fcntl(fd, F_SETLKW, &fl) < 0)
		if (errno != EINTR || stopping)
			return -1;
	return 0;
}

static void
q_lock(struct q *q, int byte, int type)
{
	if (lock_byte(q->sfd, byte, type) == 0)
		return;
	if (errno == EINTR && stopping)
		exit(stop_status);	/* asked to stop while waiting */
	die(1, "%s: cannot lock:", q->name);
}

static void
q_unlock(struct q *q, int byte)
{
	lock_byte(q->sfd, byte, F_UNLCK);
}

/* ---- naming and opening ---- */

#define usage_die(fmt, arg) die(2, fmt, arg)

static int
name_valid(const char *s)
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

/* The directory that holds named queues. */
static const char *
dir_of_queues(char *buf, size_t size, int *is_tmp)
{
	const char *d;

	*is_tmp = 0;
	if (qdir != NULL)
		return qdir;
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

static void
q_resolve(struct q *q, const char *spec)
{
	char dbuf[PATH_MAX];
	const char *d;
	int is_tmp, n;

	q->name = spec;
	if (spec[0] == '/' || (spec[0] == '.' && spec[1] == '/')) {
		n = snprintf(q->path, sizeof(q->path), "%s", spec);
	} else {
		if (!name_valid(spec))
			usage_die("invalid queue name '%s' (letters, digits, "
			    "'.', '_', '-'; not starting with '.')", spec);
		d = dir_of_queues(dbuf, sizeof(dbuf), &is_tmp);
		n = snprintf(q->path, sizeof(q->path), "%s/%s", d, spec);
		q->in_tmp = is_tmp;
	}
	if (n < 0 || (size_t)n >= sizeof(q->path) - 64)
		usage_die("queue path too long: %s", spec);
}

/* mkdir -p for the directory of queues; the last level gets 0700. A
 * shared /tmp directory must be ours and not a symlink. */
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

/* In a shared /tmp, anyone could have made the directory first. */
static void
tmp_check(const char *d)
{
	struct stat sb;

	if (lstat(d, &sb) < 0 || !S_ISDIR(sb.st_mode) ||
	    sb.st_uid != getuid() || (sb.st_mode & 077) != 0)
		die(1, "%s is not a private directory of this user (set "
		    "PQUEUE_DIR or XDG_RUNTIME_DIR)", d);
}

static void
q_create_dirs(struct q *q)
{
	char dbuf[PATH_MAX], lease[PATH_MAX + 8];
	const char *d;
	int is_tmp;

	if (q->name[0] != '/' && !(q->name[0] == '.' && q->name[1] == '/')) {
		d = dir_of_queues(dbuf, sizeof(dbuf), &is_tmp);
		if (mkdirs(d) < 0)
			die(1, "cannot create %s:", d);
		if (is_tmp)
			tmp_check(d);
	}
	if (mkdir(q->path, 0700) < 0 && errno != EEXIST)
		die(1, "cannot create queue %s:", q->path);
	snprintf(lease, sizeof(lease), "%s/lease", q->path);
	if (mkdir(lease, 0700) < 0 && errno != EEXIST)
		die(1, "cannot create %s:", lease);
}

static void
fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* A new queue's name must reach the disk too. */
static void
parent_sync(const char *path)
{
	char buf[PATH_MAX], *slash;

	snprintf(buf, sizeof(buf), "%s", path);
	if ((slash = strrchr(buf, '/')) == NULL)
		fsync_path(".");
	else if (slash == buf)
		fsync_path("/");
	else {
		*slash = '\0';
		fsync_path(buf);
	}
}

/* The first opener of a new queue fills in `state` under APPEND. A
 * creator killed halfway leaves it short or all zero: finished here. */
static void
q_init_state(struct q *q)
{
	static const char zero[8];
	struct stat sb;
	struct state *st;

	q_lock(q, LK_APPEND, F_WRLCK);
	if (fstat(q->sfd, &sb) < 0)
		die(1, "%s: stat:", q->name);
	if (sb.st_size == 0 && ftruncate(q->sfd, STATE_SIZE) < 0)
		die(1, "%s: cannot create state:", q->name);
	if (sb.st_size != 0 && sb.st_size < STATE_SIZE)
		die(1, "%s: not a pqueue queue (short state file)", q->name);
	st = mmap(NULL, STATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    q->sfd, 0);
	if (st == MAP_FAILED)
		die(1, "%s: mmap:", q->name);
	if (memcmp(st->magic, zero, 8) == 0) {
		st->version = 1;
		memcpy(st->magic, STATE_MAGIC, 8);
		fsync(q->sfd);
		fsync_path(q->path);
		parent_sync(q->path);
	}
	munmap(st, STATE_SIZE);
	q_unlock(q, LK_APPEND);
}

/* Open a queue. create: make it when missing. Returns 0, or -1 with
 * errno ENOENT when it does not exist and create is 0. */
static int
q_open(struct q *q, const char *spec, int create)
{
	char sp[PATH_MAX + 8], dp[PATH_MAX];
	struct stat sb;

	memset(q, 0, sizeof(*q));
	q->sfd = q->wfd = q->rfd = q->watch = -1;
	q->wseg = q->rseg = UINT64_MAX;
	q_resolve(q, spec);
	snprintf(sp, sizeof(sp), "%s/state", q->path);
	if (q->in_tmp && access(q->path, F_OK) == 0) {
		snprintf(dp, sizeof(dp), "%s", q->path);
		*strrchr(dp, '/') = '\0';
		tmp_check(dp);
	}
	q->sfd = open(sp, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (q->sfd < 0 && errno == ENOENT && create) {
		q_create_dirs(q);
		q->sfd = open(sp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	}
	if (q->sfd < 0) {
		if (errno == ENOENT && !create)
			return -1;
		die(1, "%s: cannot open %s:", q->name, sp);
	}
	if (fstat(q->sfd, &sb) < 0)
		die(1, "%s: stat:", q->name);
	if (sb.st_size < STATE_SIZE)
		q_init_state(q);
	q->st = mmap(NULL, STATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    q->sfd, 0);
	if (q->st == MAP_FAILED)
		die(1, "%s: mmap:", q->name);
	if (memcmp(q->st->magic, STATE_MAGIC, 8) != 0)
		q_init_state(q);	/* being made, or its maker died */
	if (memcmp(q->st->magic, STATE_MAGIC, 8) != 0)
		die(1, "%s: not a pqueue queue (bad %s)", q->name, sp);
	return 0;
}

static void
q_close(struct q *q)
{
	if (q->st != NULL && q->st != MAP_FAILED)
		munmap(q->st, STATE_SIZE);
	if (q->sfd >= 0)
		close(q->sfd);
	if (q->wfd >= 0)
		close(q->wfd);
	if (q->rfd >= 0)
		close(q->rfd);
	if (q->watch >= 0)
		close(q->watch);
	free(q->rbuf);
	q->st = NULL;
	q->sfd = q->wfd = q->rfd = q->watch = -1;
	q->rbuf = NULL;
}

static void
seg_path(const struct q *q, uint64_t seg, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%016llx.seg", q->path, (unsigned long long)seg);
}

/* ---- producing ---- */

static void
batch_add(struct batch *b, const void *data, size_t len, uint64_t id,
    int64_t time, uint32_t attempt)
{
	struct rec r;

	if (b->len + HDR + len > b->cap) {
		b->cap = b->cap ? b->cap : 64 * 1024;
		while (b->len + HDR + len > b->cap)
			b->cap *= 2;
		b->buf = xrealloc(b->buf, b->cap);
	}
	memset(&r, 0, sizeof(r));
	r.len = (uint32_t)len;
	r.id = id;
	r.time = time;
	r.attempt = attempt;
	r.crc = crc_partial(&r, data);	/* finished by q_append */
	memcpy(b->buf + b->len, &r, HDR);
	if (len > 0)
		memcpy(b->buf + b->len + HDR, data, len);
	b->len += HDR + len;
	b->nrec++;
	b->nbytes += len;
}

static void
batch_reset(struct batch *b)
{
	b->len = 0;
	b->nrec = b->nbytes = 0;
}

/* Give records without an id (0) the next sequence numbers, and finish
 * every CRC. */
static void
batch_seal(struct batch *b, uint64_t seq)
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
seg_open_write(struct q *q, uint64_t seg, int trunc)
{
	char p[PATH_MAX + 32];
	int fd;

	seg_path(q, seg, p, sizeof(p));
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | (trunc ? O_TRUNC : 0),
	    0600);
	if (fd < 0)
		return -1;
	if (q->wfd >= 0)
		close(q->wfd);
	q->wfd = fd;
	q->wseg = seg;
	return 0;
}

/* Append a batch at the tail and commit it. 0, or -1 with a warning
 * printed (nothing of the batch is then in the queue). */
static int
q_append(struct q *q, struct batch *b, int sync)
{
	struct pos t;
	size_t done;
	ssize_t w;
	int rolled = 0, oldfd;

	if (b->nrec == 0)
		return 0;
	q_lock(q, LK_APPEND, F_WRLCK);
	TAIL_LOAD(q, &t);
	if (q->wseg != t.seg) {
		if (seg_open_write(q, t.seg, 0) < 0)
			goto fail;
		rolled = 1;	/* may have just made it: sync its name */
	}
	if (t.off > 0 && t.off + b->len > SEG_MAX) {
		/* Cut off any torn write, so readers of a finished segment
		 * may read it to its end. */
		oldfd = q->wfd;
		q->wfd = -1;
		if (ftruncate(oldfd, (off_t)t.off) < 0) {
			close(oldfd);
			q->wseg = UINT64_MAX;
			goto fail;
		}
		close(oldfd);
		if (seg_open_write(q, t.seg + 1, 1) < 0)
			goto fail;
		t.seg++;
		t.off = 0;
		rolled = 1;
	}
	batch_seal(b, t.seq + 1);
	for (done = 0; done < b->len; done += (size_t)w) {
		w = pwrite(q->wfd, b->buf + done, b->len - done,
		    (off_t)(t.off + done));
		if (w < 0 && errno == EINTR)
			w = 0;
		else if (w < 0)
			goto fail;
	}
	if (sync) {
		if (fdatasync(q->wfd) < 0)
			goto fail;
		if (rolled)
			fsync_path(q->path);
	}
	t.off += b->len;
	t.seq += b->nrec;
	t.bytes += b->nbytes;
	TAIL_STORE(q, &t);
	if (sync && msync(q->st, STATE_SIZE, MS_SYNC) < 0)
		goto fail;
	q_unlock(q, LK_APPEND);
	return 0;
fail:
	warn("%s: cannot append %llu message(s):", q->name,
	    (unsigned long long)b->nrec);
	q_unlock(q, LK_APPEND);
	return -1;
}

/* ---- consuming ---- */

static void
seg_unlink(struct q *q, uint64_t seg)
{
	char p[PATH_MAX + 32];

	seg_path(q, seg, p, sizeof(p));
	unlink(p);
}

/* Make rbuf hold [off, off + need) of the head segment, reading ahead up
 * to `end`. Returns bytes available from off (may be < need at EOF). */
static size_t
rd_fill(struct q *q, uint64_t off, size_t need, uint64_t end)
{
	size_t want, have;
	ssize_t n;

	if (off >= q->roff && off + need <= q->roff + q->rlen)
		return (size_t)(q->roff + q->rlen - off);
	want = need > READ_CHUNK ? need : READ_CHUNK;
	if (end != UINT64_MAX && off + want > end)
		want = (size_t)(end - off) > need ? (size_t)(end - off) : need;
	if (want > q->rcap) {
		q->rbuf = xrealloc(q->rbuf, want);
		q->rcap = want;
	}
	for (have = 0; have < want; have += (size_t)n) {
		n = pread(q->rfd, q->rbuf + have, want - have,
		    (off_t)(off + have));
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0)
			die(1, "%s: read:", q->name);
		if (n == 0)
			break;
	}
	q->roff = off;
	q->rlen = have;
	return have;
}

/* Open the head segment for reading. 0, or -1 if it is missing. */
static int
rd_open(struct q *q, uint64_t seg)
{
	char p[PATH_MAX + 32];
	int fd;

	if (q->rseg == seg)
		return 0;
	seg_path(q, seg, p, sizeof(p));
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			die(1, "%s: cannot open %s:", q->name, p);
		return -1;
	}
	if (q->rfd >= 0)
		close(q->rfd);
	q->rfd = fd;
	q->rseg = seg;
	q->rlen = 0;
	return 0;
}

/* Find the record at the head h, given the committed tail t; moves h
 * over finished segments and damaged records (reported). Returns 1 with
 * the header in *r and its data in *data, or 0 when the queue is empty.
 * *oldseg gets a segment the head has left (to unlink once committed). */
static int
rd_next(struct q *q, struct pos *h, const struct pos *t, struct rec *r,
    char **data)
{
	uint64_t end;
	size_t have;
	const char *why;

	for (;;) {
		if (h->seg > t->seg || (h->seg == t->seg && h->off >= t->off)) {
			/* Empty: also heals counts after skipped damage. */
			*h = *t;
			return 0;
		}
		end = h->seg == t->seg ? t->off : UINT64_MAX;
		if (rd_open(q, h->seg) < 0) {
			why = "segment missing";
			goto skip;
		}
		have = rd_fill(q, h->off, HDR, end);
		if (have < HDR) {
			if (h->seg < t->seg && have == 0) {
				h->seg++;
				h->off = 0;
				continue;
			}
			why = "short record";
			goto skip;
		}
		memcpy(r, q->rbuf + (h->off - q->roff), HDR);
		if (r->len > MSG_LIMIT || (end != UINT64_MAX &&
		    h->off + HDR + r->len > end)) {
			why = "bad length";
			goto skip;
		}
		have = rd_fill(q, h->off, HDR + r->len, end);
		if (have < HDR + r->len) {
			why = "short record";
			goto skip;
		}
		*data = q->rbuf + (h->off - q->roff) + HDR;
		if (crc_final(crc_partial(r, *data), r->id) != r->crc) {
			why = "checksum mismatch";
			goto skip;
		}
		return 1;
skip:
		warn("%s: damaged record at %016llx.seg offset %llu (%s); "
		    "skipping the rest of that segment", q->name,
		    (unsigned long long)h->seg, (unsigned long long)h->off,
		    why);
		if (h->seg < t->seg) {
			h->seg++;
			h->off = 0;
		} else {
			*h = *t;
		}
	}
}

/* Commit the head past the record r; unlink segments left behind. */
static void
head_commit(struct q *q, struct pos *h, const struct rec *r)
{
	struct pos old;

	HEAD_LOAD(q, &old);
	h->off += HDR + r->len;
	h->seq++;
	h->bytes += r->len;
	HEAD_STORE(q, h);
	for (; old.seg < h->seg; old.seg++)
		seg_unlink(q, old.seg);
}

/* Commit a head moved by rd_next over empty space or damage. */
static void
head_sync(struct q *q, const struct pos *h)
{
	struct pos old;

	HEAD_LOAD(q, &old);
	if (memcmp(&old, h, sizeof(old)) == 0)
		return;
	HEAD_STORE(q, h);
	for (; old.seg < h->seg; old.seg++)
		seg_unlink(q, old.seg);
}

static int
lease_dirfd(const struct q *q)
{
	char p[PATH_MAX + 8];

	snprintf(p, sizeof(p), "%s/lease", q->path);
	return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Read a whole lease file (header, data, delimiter) into *b; 0 or -1. */
static int
lease_read(int fd, struct rec *r, char **data)
{
	struct stat sb;
	char *buf;

	if (fstat(fd, &sb) < 0 || sb.st_size < HDR ||
	    (uint64_t)sb.st_size > MSG_LIMIT + HDR + 1)
		return -1;
	buf = xmalloc((size_t)sb.st_size);
	if (io_read_full(fd, buf, (size_t)sb.st_size) != sb.st_size)
		goto bad;
	memcpy(r, buf, HDR);
	if ((uint64_t)r->len + HDR > (uint64_t)sb.st_size ||
	    crc_final(crc_partial(r, buf + HDR), r->id) != r->crc)
		goto bad;
	*data = buf;
	return 0;
bad:
	free(buf);
	return -1;
}

/* Give back the leases whose holders died. Caller holds HEAD. Returns
 * how many came back. */
static int
lease_reclaim(struct q *q)
{
	struct batch b = { 0 };
	struct dirent *de;
	struct flock fl;
	struct stat sb;
	struct rec r;
	char *buf;
	DIR *d;
	int dfd, fd, n = 0;

	if ((dfd = lease_dirfd(q)) < 0)
		return 0;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
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
			batch_reset(&b);
			batch_add(&b, buf + HDR, r.len, r.id, r.time,
			    r.attempt + 1);
			free(buf);
			if (q_append(q, &b, 0) < 0) {
				close(fd);
				continue;
			}
			n++;
			verbose("%s: gave back message %llu of a dead holder",
			    q->name, (unsigned long long)r.id);
		} else {
			warn("%s: damaged lease %s removed", q->name,
			    de->d_name);
		}
		unlinkat(dfd, de->d_name, 0);
		close(fd);
	}
	closedir(d);
	free(b.buf);
	return n;
}

/* Wait until the store may have changed or the deadline (monotonic ns,
 * -1 none) passes. Returns 0, or -1 at the deadline. */
static int
q_wait(struct q *q, int64_t deadline)
{
	struct pollfd p = { .fd = q->watch, .events = POLLIN };
	int64_t left;
	int ms, r;

	for (;;) {
		ms = -1;
		if (deadline >= 0) {
			left = deadline - clock_mono();
			if (left <= 0)
				return -1;
			ms = (int)((left + NS_PER_MS - 1) / NS_PER_MS);
		}
		if (q->watch < 0 && (ms < 0 || ms > 10))
			ms = 10;	/* no inotify left: look every 10 ms */
		r = poll(q->watch < 0 ? NULL : &p, q->watch < 0 ? 0 : 1, ms);
		if (r == 0 && q->watch < 0)
			return 0;
		if (r < 0 && errno == EINTR) {
			if (stopping)
				return -1;
			continue;
		}
		if (r < 0)
			die(1, "poll:");
		if (r > 0) {
			queue_watch_drain(q->watch);
			return 0;
		}
	}
}

static void
q_watch(struct q *q)
{
	char p[PATH_MAX + 8];

	snprintf(p, sizeof(p), "%s/lease", q->path);
	if ((q->watch = queue_watch_open()) < 0 ||
	    queue_watch_add(q->watch, q->path, QUEUE_WATCH_DATA) < 0 ||
	    queue_watch_add(q->watch, p, QUEUE_WATCH_CLOSE) < 0) {
		/* Out of inotify instances or watches (a per-user limit):
		 * degrade to looking every 10 ms rather than fail. */
		warn("%s: cannot watch the queue, polling instead:", q->name);
		if (q->watch >= 0)
			close(q->watch);
		q->watch = -1;
	}
}

/*
 * Take HEAD (if not held) and find the oldest message, waiting for one
 * until deadline (-1 forever, 0 not at all). Returns 1 with HEAD held and
 * the head and record filled in, or 0 (empty / timed out) with HEAD
 * released.
 */
static int
q_next(struct q *q, int *held, int64_t deadline, struct pos *h,
    struct rec *r, char **data)
{
	struct pos t;

	for (;;) {
		if (!*held) {
			q_lock(q, LK_HEAD, F_WRLCK);
			*held = 1;
		}
		HEAD_LOAD(q, h);
		TAIL_LOAD(q, &t);
		if (rd_next(q, h, &t, r, data))
			return 1;
		/* A producer's data event may come before its commit:
		 * wait out any commit in progress, then look again. */
		q_lock(q, LK_APPEND, F_RDLCK);
		q_unlock(q, LK_APPEND);
		TAIL_LOAD(q, &t);
		if (rd_next(q, h, &t, r, data))
			return 1;
		head_sync(q, h);
		if (lease_reclaim(q) > 0)
			continue;
		q_unlock(q, LK_HEAD);
		*held = 0;
		if (deadline == 0 || q_wait(q, deadline) < 0)
			return 0;
	}
}

/* ---- push ---- */

static int
push_args(struct q *q, char **msgs, int n, int sync, uint64_t max)
{
	struct batch b = { 0 };
	int64_t now = clock_wall();
	int i, status = 0;
	size_t len;

	for (i = 0; i < n; i++) {
		len = strlen(msgs[i]);
		if (len > max) {
			warn("%s: message %d is %zu bytes, over the limit of "
			    "%llu bytes; not pushed", q->name, i + 1, len,
			    (unsigned long long)max);
			status = 1;
			continue;
		}
		batch_add(&b, msgs[i], len, 0, now, 1);
	}
	if (q_append(q, &b, sync) < 0)
		status = 1;
	free(b.buf);
	return status;
}

static int
push_stdin(struct q *q, int sync, uint64_t max)
{
	struct io_records in;
	struct batch b = { 0 };
	uint64_t recno = 0;
	int64_t now = 0;
	int t, status = 0;
	size_t len;
	char *rec;

	io_records_init(&in, STDIN_FILENO, delim, (size_t)max);
	for (;;) {
		t = io_records_take(&in, &rec, &len);
		if (t == IO_REC) {
			if (b.nrec == 0)
				now = clock_wall();
			batch_add(&b, rec, len, 0, now, 1);
			recno++;
			if (b.len < FLUSH_AT)
				continue;
		} else if (t == IO_TOOLONG) {
			recno++;
			warn("%s: message %llu is %zu bytes, over the limit of "
			    "%llu bytes; not pushed", q->name,
			    (unsigned long long)recno, len,
			    (unsigned long long)max);
			status = 1;
			continue;
		}
		/* Everything read so far goes into the store before the
		 * next read may block: a slow producer's message is
		 * visible at once. */
		if (q_append(q, &b, sync) < 0)
			status = 1;
		batch_reset(&b);
		if (t == IO_EOF)
			break;
		if (t == IO_MORE && io_records_fill(&in) < 0) {
			warn("reading stdin:");
			status = 1;
			break;
		}
	}
	io_records_free(&in);
	free(b.buf);
	return status;
}

/* ---- stopping ---- */

static void
on_stop(int sig)
{
	stopping = sig;
}

/* A graceful stop for the streaming consumers: finish the message in
 * hand (a running COMMAND included), commit, and exit 0. Without
 * SA_RESTART, a wait for messages returns at once. */
static void
stop_setup(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* ---- output ---- */

/* Write one message and its delimiter. 0, or -1 (EPIPE: quietly). */
static int
out_message(const char *data, size_t len)
{
	char d = (char)delim;
	struct iovec iov[2];
	ssize_t w;
	size_t skip;

	iov[0].iov_base = (void *)(uintptr_t)data;
	iov[0].iov_len = len;
	iov[1].iov_base = &d;
	iov[1].iov_len = 1;
	skip = 0;
	while (skip < len + 1) {
		if (skip < len) {
			iov[0].iov_base = (void *)(uintptr_t)(data + skip);
			iov[0].iov_len = len - skip;
			w = writev(STDOUT_FILENO, iov, 2);
		} else {
			w = write(STDOUT_FILENO, &d, 1);
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			if (errno != EPIPE)
				warn("write:");
			return -1;
		}
		skip += (size_t)w;
	}
	return 0;
}

/* Could writing n more bytes to stdout block? Asks poll only when the
 * room it last promised may be used up. */
static int
out_blocked(size_t n)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };

	if (out_room == 0 || out_since + n + 1 <= out_room)
		return 0;
	if (poll(&p, 1, 0) == 0)
		return 1;
	out_since = 0;
	return 0;
}

static void
out_wait(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };

	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		if (stopping)
			return;
	out_since = 0;
}

static void
out_setup(void)
{
	struct stat sb;

	signal(SIGPIPE, SIG_IGN);
	if (fstat(STDOUT_FILENO, &sb) < 0)
		return;
	if (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode))
		out_room = 4096;
	else if (isatty(STDOUT_FILENO))
		out_room = 256;
	out_since = out_room;	/* ask before the first write */
}

/* ---- pop ---- */

struct pop_opts {
	int nowait;
	int64_t timeout;	/* -1 none */
	long long count;	/* -1 forever */
};

static int
pop_store(struct q *q, const struct pop_opts *o)
{
	struct pos h;
	struct rec r;
	char *data;
	long long done = 0;
	int held = 0, hold = 0;
	int64_t deadline;

	while (!stopping) {
		deadline = o->nowait ? 0 : o->timeout >= 0 ?
		    clock_mono() + o->timeout : -1;
		if (held && ++hold >= HOLD_MAX) {
			q_unlock(q, LK_HEAD);	/* let other consumers in */
			held = hold = 0;
		}
		if (!q_next(q, &held, deadline, &h, &r, &data))
			break;
		if (out_blocked(r.len)) {
			/* Never sit on HEAD while our reader is slow. */
			q_unlock(q, LK_HEAD);
			held = hold = 0;
			out_wait();
			continue;
		}
		out_since += r.len + 1;
		if (out_message(data, r.len) < 0) {
			q_unlock(q, LK_HEAD);
			return errno == EPIPE ? 0 : 1;
		}
		head_commit(q, &h, &r);
		if (++done == o->count)
			break;
	}
	if (held)
		q_unlock(q, LK_HEAD);
	return done > 0 ? 0 : 1;
}

/* ---- System V queues ---- */

struct sysv {
	key_t key;
	long type;
	const char *name;
};

static int
sysv_num(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;
	int neg = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s == '\0' || *s == '+' || *s == '-' || *s == ' ')
		return -1;
	errno = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		v = strtoll(s + 2, &end, 16);
	else
		v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || end == s)
		return -1;
	if (neg)
		v = -v;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* sysv:KEY[:TYPE], KEY decimal, 0xHEX or PATH@PROJ (ftok). */
static void
sysv_parse(const char *spec, struct sysv *sv, int for_push)
{
	char buf[PATH_MAX];
	char *p, *at, *colon;
	long long v;

	sv->name = spec;
	snprintf(buf, sizeof(buf), "%s", spec + 5);
	sv->type = for_push ? 1 : 0;
	at = strrchr(buf, '@');
	colon = strrchr(at ? at : buf, ':');
	if (colon != NULL) {
		*colon = '\0';
		if (sysv_num(colon + 1, for_push ? 1 : -LONG_MAX, LONG_MAX,
		    &v) < 0)
			usage_die(for_push ? "bad TYPE in '%s' (a number > 0)" :
			    "bad TYPE in '%s' (a number)", spec);
		sv->type = (long)v;
	}
	if (at != NULL) {
		*at = '\0';
		p = at + 1;
		if (p[0] != '\0' && p[1] == '\0')
			v = (unsigned char)p[0];
		else if (sysv_num(p, 1, 255, &v) < 0)
			usage_die("bad PROJ in '%s' (one character or 1-255)",
			    spec);
		if (buf[0] == '\0')
			usage_die("no PATH before @ in '%s'", spec);
		if ((sv->key = ftok(buf, (int)v)) == (key_t)-1)
			die(2, "ftok %s:", buf);
		return;
	}
	if (sysv_num(buf, INT_MIN, UINT_MAX, &v) < 0)
		usage_die("bad KEY in '%s' (decimal, 0x hex, or PATH@PROJ)",
		    spec);
	sv->key = (key_t)(int)(unsigned)v;
}

static long
sysv_msgmax(void)
{
	char *s;
	long v = 8192;

	if (io_read_file(AT_FDCWD, "/proc/sys/kernel/msgmax", &s, NULL) == 0) {
		v = atol(s);
		free(s);
	}
	return v > 0 ? v : 8192;
}

static int
sysv_get(const struct sysv *sv, int create)
{
	int id = msgget(sv->key, create ? IPC_CREAT | 0600 : 0);

	if (id < 0 && !(errno == ENOENT && !create)) {
		if (errno == ENOSPC)
			die(1, "%s: no more System V queues (kernel.msgmni)",
			    sv->name);
		die(1, "%s: msgget:", sv->name);
	}
	return id;
}

static int
sysv_send(const struct sysv *sv, int id, const char *data, size_t len,
    long msgmax, size_t qbytes, char **buf, size_t *cap)
{
	long type = sv->type;

	if ((long long)len > msgmax) {
		warn("%s: message of %zu bytes exceeds msgmax, the kernel's "
		    "limit of %ld bytes per message (kernel.msgmax)", sv->name,
		    len, msgmax);
		return -1;
	}
	if (len > qbytes) {
		warn("%s: message of %zu bytes exceeds the queue's capacity "
		    "of %zu bytes (msg_qbytes, kernel.msgmnb)", sv->name, len,
		    qbytes);
		return -1;
	}
	if (*cap < sizeof(long) + len) {
		*cap = sizeof(long) + len;
		*buf = xrealloc(*buf, *cap);
	}
	memcpy(*buf, &type, sizeof(long));
	memcpy(*buf + sizeof(long), data, len);
	while (msgsnd(id, *buf, len, 0) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EIDRM)
			die(1, "%s: the queue was removed", sv->name);
		if (errno == EINVAL)
			warn("%s: message of %zu bytes refused by the kernel "
			    "(kernel.msgmax is %ld)", sv->name, len, msgmax);
		else
			warn("%s: msgsnd:", sv->name);
		return -1;
	}
	return 0;
}

static int
sysv_push(const struct sysv *sv, char **msgs, int n, uint64_t max)
{
	struct io_records in;
	struct msqid_ds ds;
	char *buf = NULL, *rec;
	size_t cap = 0, len, qbytes = SIZE_MAX;
	long msgmax = sysv_msgmax();
	int id, t, i, status = 0;

	id = sysv_get(sv, 1);
	if (msgctl(id, IPC_STAT, &ds) == 0)
		qbytes = ds.msg_qbytes;
	if (n > 0) {
		for (i = 0; i < n; i++)
			if (sysv_send(sv, id, msgs[i], strlen(msgs[i]), msgmax,
			    qbytes, &buf, &cap) < 0)
				status = 1;
		free(buf);
		return status;
	}
	io_records_init(&in, STDIN_FILENO, delim, (size_t)max);
	while ((t = io_records_next(&in, &rec, &len)) != IO_EOF) {
		if (t < 0) {
			warn("reading stdin:");
			status = 1;
			break;
		}
		if (t == IO_TOOLONG) {
			warn("%s: message of %zu bytes is over the limit of "
			    "%llu bytes; not pushed", sv->name, len,
			    (unsigned long long)max);
			status = 1;
			continue;
		}
		if (sysv_send(sv, id, rec, len, msgmax, qbytes, &buf,
		    &cap) < 0)
			status = 1;
	}
	io_records_free(&in);
	free(buf);
	return status;
}

static void
on_alarm(int sig)
{
	(void)sig;
}

static int
sysv_pop(const struct sysv *sv, const struct pop_opts *o)
{
	struct sigaction sa;
	struct itimerval it;
	size_t cap;
	long long done = 0;
	ssize_t n;
	char *buf;
	int id;

	if ((id = sysv_get(sv, !o->nowait)) < 0)
		return 1;
	out_setup();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: msgrcv gets EINTR */
	sigaction(SIGALRM, &sa, NULL);
	cap = (size_t)sysv_msgmax();
	buf = xmalloc(sizeof(long) + cap);
	for (;;) {
		if (o->timeout >= 0 && !o->nowait) {
			memset(&it, 0, sizeof(it));
			it.it_value.tv_sec = o->timeout / NS_PER_SEC;
			it.it_value.tv_usec = (o->timeout % NS_PER_SEC) / 1000;
			if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
				it.it_value.tv_usec = 1;
			setitimer(ITIMER_REAL, &it, NULL);
		}
		n = msgrcv(id, buf, cap, sv->type, o->nowait ? IPC_NOWAIT : 0);
		if (o->timeout >= 0 && !o->nowait) {
			memset(&it, 0, sizeof(it));
			setitimer(ITIMER_REAL, &it, NULL);
		}
		if (n < 0) {
			if (errno == E2BIG) {
				cap *= 2;
				buf = xrealloc(buf, sizeof(long) + cap);
				continue;
			}
			if (errno == ENOMSG || (errno == EINTR &&
			    o->timeout >= 0))
				break;
			if (errno == EINTR)
				continue;
			free(buf);
			if (errno == EIDRM)
				die(1, "%s: the queue was removed", sv->name);
			die(1, "%s: msgrcv:", sv->name);
		}
		if (out_message(buf + sizeof(long), (size_t)n) < 0) {
			free(buf);
			return errno == EPIPE ? 0 : 1;
		}
		if (++done == o->count)
			break;
	}
	free(buf);
	return done > 0 ? 0 : 1;
}

static int
sysv_stat(const struct sysv *sv, int len_only)
{
	struct msqid_ds ds;
	int id;

	if ((id = sysv_get(sv, 0)) < 0) {
		if (len_only) {
			puts("0");
			return 0;
		}
		warn("%s: no such queue", sv->name);
		return 1;
	}
	if (msgctl(id, IPC_STAT, &ds) < 0)
		die(1, "%s: msgctl:", sv->name);
	if (len_only)
		printf("%lu\n", (unsigned long)ds.msg_qnum);
	else
		printf("%s %lu %lu - 0 0\n", sv->name,
		    (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes);
	return 0;
}

/* ---- run ---- */

struct run_opts {
	int forever;
	long long count;
	long long max_attempts;
};

static void
dead_append(struct q *q, struct batch *b)
{
	char p[PATH_MAX + 8];
	uint64_t len;
	int fd;

	snprintf(p, sizeof(p), "%s/dead", q->path);
	q_lock(q, LK_DEAD, F_WRLCK);
	len = atomic_load(&q->st->dead_len);
	batch_seal(b, 0);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    pwrite(fd, b->buf, b->len, (off_t)len) != (ssize_t)b->len)
		warn("%s: cannot write the dead-letter list:", q->name);
	else
		atomic_store(&q->st->dead_len, len + b->len);
	if (fd >= 0)
		close(fd);
	q_unlock(q, LK_DEAD);
}

static void
set_env_num(const char *name, unsigned long long v)
{
	char s[32];

	snprintf(s, sizeof(s), "%llu", v);
	setenv(name, s, 1);
}

/* Lease the head record r (HEAD held): lease file written and locked.
 * Returns the lease fd; path in lp. */
static int
lease_take(struct q *q, const struct rec *r, const char *data, char *lp,
    size_t lpsize)
{
	struct flock fl;
	struct iovec iov[3];
	char d = (char)delim;
	int fd;

	snprintf(lp, lpsize, "%s/lease/%llu.%ld", q->path,
	    (unsigned long long)r->id, (long)getpid());
	fd = open(lp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(125, "%s: cannot create lease %s:", q->name, lp);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) < 0)
		die(125, "%s: cannot lock lease %s:", q->name, lp);
	iov[0].iov_base = (void *)(uintptr_t)r;
	iov[0].iov_len = HDR;
	iov[1].iov_base = (void *)(uintptr_t)data;
	iov[1].iov_len = r->len;
	iov[2].iov_base = &d;
	iov[2].iov_len = 1;
	if (writev(fd, iov, 3) != (ssize_t)(HDR + r->len + 1))
		die(125, "%s: cannot write lease %s:", q->name, lp);
	return fd;
}

/* Run COMMAND on one leased message; returns its status, or minus the
 * exec status when it could not run. The lease fd itself becomes
 * COMMAND's stdin: opening and closing a second fd to the lease would
 * drop our record lock on it (POSIX locks go with any close). */
static int
run_one(struct q *q, char **argv, const struct rec *r, int fd)
{
	struct spawn_opts so;
	int ws;
	pid_t pid;

	if (lseek(fd, HDR, SEEK_SET) < 0)
		die(125, "%s: lease:", q->name);
	set_env_num("PQUEUE_ID", r->id);
	set_env_num("PQUEUE_ATTEMPT", r->attempt);
	setenv("PQUEUE_QUEUE", q->name, 1);
	memset(&so, 0, sizeof(so));
	so.in = fd;
	so.out = so.err = -1;
	/* If we die, the lease goes back and another runner takes the
	 * message: this run must not go on beside it. */
	so.pdeathsig = SIGKILL;
	if ((pid = spawn_start(argv, &so)) < 0)
		return -spawn_exec_status(errno);
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			die(125, "waitpid:");
	return spawn_wait_status(ws);
}

/* Put a leased message back with attempt + 1, or on the dead-letter
 * list. */
static void
run_requeue(struct q *q, const struct rec *r, const char *data, int dead)
{
	struct batch b = { 0 };

	batch_add(&b, data, r->len, r->id, r->time,
	    dead ? r->attempt : r->attempt + 1);
	if (dead)
		dead_append(q, &b);
	else
		q_append(q, &b, 0);
	free(b.buf);
}

static int
run_store(struct q *q, const struct run_opts *o, char **argv)
{
	char lp[PATH_MAX + 64], *data, *msg = NULL;
	struct pos h;
	struct rec r;
	long long done = 0;
	int held = 0, fd, st, last = 0, dead;

	signal(SIGCHLD, SIG_DFL);
	while (!stopping && (o->forever || done < o->count)) {
		if (!q_next(q, &held, -1, &h, &r, &data))
			break;	/* stopping */
		fd = lease_take(q, &r, data, lp, sizeof(lp));
		/* data points into the read window: keep a copy. */
		msg = xrealloc(msg, r.len + 1);
		memcpy(msg, data, r.len);
		head_commit(q, &h, &r);
		q_unlock(q, LK_HEAD);
		held = 0;
		done++;
		if ((long long)r.attempt > o->max_attempts) {
			/* Came back from dead holders once too often. */
			run_requeue(q, &r, msg, 1);
			unlink(lp);
			close(fd);
			continue;
		}
		st = run_one(q, argv, &r, fd);
		if (st < 0) {
			/* COMMAND cannot run at all: not the message's
			 * fault, so it goes back as it was. */
			errno = -st == 127 ? ENOENT : EACCES;
			warn("cannot run '%s':", argv[0]);
			r.attempt--;
			run_requeue(q, &r, msg, 0);
			unlink(lp);
			close(fd);
			free(msg);
			return -st;
		}
		last = st;
		if (st != 0) {
			dead = (long long)r.attempt >= o->max_attempts;
			notice("%s: message %llu attempt %u: '%s' exited with "
			    "status %d; %s", q->name, (unsigned long long)r.id,
			    r.attempt, argv[0], st, dead ?
			    "moved to the dead-letter list" : "will retry");
			run_requeue(q, &r, msg, dead);
		}
		/* Unlink before close: a reclaimer that opened the lease
		 * meanwhile sees it unlinked and leaves it alone. */
		unlink(lp);
		close(fd);
	}
	free(msg);
	return done == 1 && !o->forever ? last : 0;
}

/* ---- peek, len, stat, ls, purge, dead ---- */

/* The oldest record, read under a shared HEAD. 1 found, 0 empty. */
static int
q_peek(struct q *q, struct rec *r, char **data)
{
	struct pos h, t;
	int found;

	q_lock(q, LK_HEAD, F_RDLCK);
	HEAD_LOAD(q, &h);
	TAIL_LOAD(q, &t);
	found = rd_next(q, &h, &t, r, data);
	q_unlock(q, LK_HEAD);
	return found;
}

static int
count_leases(const struct q *q)
{
	struct dirent *de;
	DIR *d;
	int fd, n = 0;

	if ((fd = lease_dirfd(q)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Walk the dead-letter log (DEAD held): fn gets each intact record. */
typedef void (*dead_fn)(const struct rec *r, const char *data, void *arg);

static uint64_t
dead_walk(struct q *q, dead_fn fn, void *arg)
{
	char p[PATH_MAX + 8], *buf = NULL;
	uint64_t off = 0, end, n = 0;
	size_t cap = 0;
	struct rec r;
	int fd;

	end = atomic_load(&q->st->dead_len);
	snprintf(p, sizeof(p), "%s/dead", q->path);
	if (end == 0 || (fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	while (off + HDR <= end) {
		if (pread(fd, &r, HDR, (off_t)off) != HDR ||
		    off + HDR + r.len > end)
			break;
		if (fn != NULL) {
			if (cap < (size_t)r.len + 1) {
				cap = (size_t)r.len + 1;
				buf = xrealloc(buf, cap);
			}
			if (pread(fd, buf, r.len, (off_t)(off + HDR)) !=
			    (ssize_t)r.len)
				break;
			if (crc_final(crc_partial(&r, buf), r.id) == r.crc)
				fn(&r, buf, arg);
			else
				warn("%s: damaged dead letter at offset %llu "
				    "skipped", q->name, (unsigned long long)off);
		}
		off += HDR + r.len;
		n++;
	}
	if (off != end)
		warn("%s: dead-letter list damaged after offset %llu",
		    q->name, (unsigned long long)off);
	free(buf);
	close(fd);
	return n;
}

static void
dead_truncate(struct q *q)
{
	char p[PATH_MAX + 8];

	snprintf(p, sizeof(p), "%s/dead", q->path);
	atomic_store(&q->st->dead_len, 0);
	truncate(p, 0);
}

static void
dead_print(const struct rec *r, const char *data, void *arg)
{
	int *failed = arg;

	if (!*failed && out_message(data, r->len) < 0)
		*failed = 1;
}

struct requeue {
	struct q *q;
	struct batch b;
	int failed;
};

static void
dead_requeue_one(const struct rec *r, const char *data, void *arg)
{
	struct requeue *rq = arg;

	batch_add(&rq->b, data, r->len, r->id, r->time, 1);
	if (rq->b.len >= FLUSH_AT) {
		if (q_append(rq->q, &rq->b, 0) < 0)
			rq->failed = 1;
		batch_reset(&rq->b);
	}
}

static int
cmd_dead(struct q *q, int requeue)
{
	struct requeue rq = { .q = q };
	int failed = 0;

	q_lock(q, LK_DEAD, requeue ? F_WRLCK : F_RDLCK);
	if (requeue) {
		dead_walk(q, dead_requeue_one, &rq);
		if (q_append(q, &rq.b, 0) < 0)
			rq.failed = 1;
		if (!rq.failed)
			dead_truncate(q);
		free(rq.b.buf);
		failed = rq.failed;
	} else {
		out_setup();
		dead_walk(q, dead_print, &failed);
	}
	q_unlock(q, LK_DEAD);
	return failed;
}

static void
stat_line(struct q *q, const char *name)
{
	struct pos h, t;
	struct rec r;
	char *data, age[32] = "-";
	uint64_t ndead;

	HEAD_LOAD(q, &h);
	TAIL_LOAD(q, &t);
	if (q_peek(q, &r, &data))
		snprintf(age, sizeof(age), "%.3f",
		    (double)(clock_wall() - r.time) / 1e9);
	q_lock(q, LK_DEAD, F_RDLCK);
	ndead = dead_walk(q, NULL, NULL);
	q_unlock(q, LK_DEAD);
	printf("%s %llu %llu %s %d %llu\n", name,
	    (unsigned long long)(t.seq - h.seq),
	    (unsigned long long)(t.bytes - h.bytes), age, count_leases(q),
	    (unsigned long long)ndead);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the queues in the directory of queues, sorted. */
static char **
list_queues(size_t *np)
{
	char dbuf[PATH_MAX], p[PATH_MAX * 2];
	const char *d;
	struct dirent *de;
	struct stat sb;
	char **v = NULL;
	size_t n = 0;
	DIR *dir;
	int is_tmp;

	d = dir_of_queues(dbuf, sizeof(dbuf), &is_tmp);
	*np = 0;
	if ((dir = opendir(d)) == NULL) {
		if (errno != ENOENT)
			die(1, "%s:", d);
		return NULL;
	}
	while ((de = readdir(dir)) != NULL) {
		if (!name_valid(de->d_name))
			continue;
		snprintf(p, sizeof(p), "%s/%s/state", d, de->d_name);
		if (stat(p, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		if ((v[n++] = strdup(de->d_name)) == NULL)
			die(1, "out of memory");
	}
	closedir(dir);
	qsort(v, n, sizeof(*v), cmp_str);
	*np = n;
	return v;
}

static int
cmd_stat(const char *spec)
{
	struct q q;
	char **v;
	size_t i, n;

	printf("name length bytes oldest-age inflight dead\n");
	if (spec != NULL) {
		if (q_open(&q, spec, 0) < 0) {
			fflush(stdout);
			warn("%s: no such queue", spec);
			return 1;
		}
		stat_line(&q, spec);
		q_close(&q);
		return 0;
	}
	v = list_queues(&n);
	for (i = 0; i < n; i++) {
		if (q_open(&q, v[i], 0) == 0) {
			stat_line(&q, v[i]);
			q_close(&q);
		}
		free(v[i]);
	}
	free(v);
	return 0;
}

static int
cmd_ls(void)
{
	char **v;
	size_t i, n;

	v = list_queues(&n);
	for (i = 0; i < n; i++) {
		puts(v[i]);
		free(v[i]);
	}
	free(v);
	return 0;
}

static int
cmd_purge(struct q *q)
{
	char p[PATH_MAX + 32];
	struct pos h, t;

	q_lock(q, LK_DEAD, F_WRLCK);
	q_lock(q, LK_HEAD, F_WRLCK);
	q_lock(q, LK_APPEND, F_WRLCK);
	HEAD_LOAD(q, &h);
	TAIL_LOAD(q, &t);
	HEAD_STORE(q, &t);
	for (; h.seg < t.seg; h.seg++) {
		seg_path(q, h.seg, p, sizeof(p));
		unlink(p);
	}
	dead_truncate(q);
	q_unlock(q, LK_APPEND);
	q_unlock(q, LK_HEAD);
	q_unlock(q, LK_DEAD);
	return 0;
}

/* ---- command line ---- */

static const char usage_text[] =
"usage: pqueue [-d DIR] [-q|-v] COMMAND ...\n"
"  push [-0] [--sync] [--max-size SIZE] QUEUE [MESSAGE]...\n"
"  pop  [-0] [-n | -w TIMEOUT] [-c COUNT | -f] QUEUE\n"
"  run  [-0] [-f] [-c COUNT] [--max-attempts N] QUEUE -- COMMAND [ARG]...\n"
"  peek [-0] QUEUE | len QUEUE | stat [QUEUE] | ls | purge QUEUE\n"
"  dead [-0] [--requeue] QUEUE\n"
"QUEUE: NAME (under DIR), /PATH or ./PATH, or sysv:KEY[:TYPE]\n"
"(KEY decimal, 0xHEX or PATH@PROJ) for push, pop, len and stat.\n";

static void
usage(void)
{
	fputs(usage_text, stdout);
	exit(0);
}

/* getopt on a subcommand's own argv; opts starts with '+'. */
static int
sub_getopt(int argc, char **argv, const char *opts,
    const struct option *lo)
{
	char quiet[64];
	int c;

	/* "+:..." makes a missing value ':' rather than '?'. */
	snprintf(quiet, sizeof(quiet), "+:%s", opts + 1);
	opterr = 0;
	c = getopt_long(argc, argv, quiet, lo, NULL);
	if (c == '?' || c == ':')
		die_badopt(c, argv);
	if (c == 'h')
		usage();
	return c;
}

static const char *
one_queue(int argc, char **argv, const char *cmd, int more)
{
	if (optind >= argc)
		die(2, "%s: QUEUE missing", cmd);
	if (!more && optind + 1 < argc)
		die(2, "%s: unexpected argument '%s'", cmd, argv[optind + 1]);
	return argv[optind];
}

static int
is_sysv(const char *spec)
{
	return strncmp(spec, "sysv:", 5) == 0;
}

static void
no_sysv(const char *spec, const char *cmd)
{
	if (is_sysv(spec))
		die(2, "%s: not available for System V queues", cmd);
}

static int
cmd_push(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "sync", no_argument, NULL, 's' },
		{ "max-size", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t max = 1 << 20;
	const char *spec;
	struct sysv sv;
	struct q q;
	int c, sync = 0, st;

	while ((c = sub_getopt(argc, argv, "+0h", lo)) != -1) {
		switch (c) {
		case '0':
			delim = '\0';
			break;
		case 'm':
			if (size_parse(optarg, &max) < 0 || max > MSG_LIMIT)
				die(2, "push: bad --max-size '%s' (at most 1G)",
				    optarg);
			break;
		case 's':
			sync = 1;
			break;
		}
	}
	spec = one_queue(argc, argv, "push", 1);
	optind++;
	if (is_sysv(spec)) {
		sysv_parse(spec, &sv, 1);
		return sysv_push(&sv, argv + optind, argc - optind, max);
	}
	q_open(&q, spec, 1);
	st = optind < argc ? push_args(&q, argv + optind, argc - optind,
	    sync, max) : push_stdin(&q, sync, max);
	q_close(&q);
	return st;
}

static int
cmd_pop(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pop_opts o = { .timeout = -1, .count = 1 };
	const char *spec;
	int c, st, forever = 0, counted = 0;
	struct sysv sv;
	struct q q;

	while ((c = sub_getopt(argc, argv, "+0c:fnw:h", lo)) != -1) {
		switch (c) {
		case '0':
			delim = '\0';
			break;
		case 'c':
			if (int_parse(optarg, 1, LLONG_MAX, &o.count) < 0)
				die(2, "pop: bad COUNT '%s'", optarg);
			counted = 1;
			break;
		case 'f':
			forever = 1;
			break;
		case 'n':
			o.nowait = 1;
			break;
		case 'w':
			if (duration_parse(optarg, &o.timeout) < 0)
				die(2, "pop: bad TIMEOUT '%s'", optarg);
			break;
		}
	}
	if (o.nowait && o.timeout >= 0)
		die(2, "pop: -n and -w exclude each other");
	if (forever && counted)
		die(2, "pop: -c and -f exclude each other");
	if (forever)
		o.count = -1;
	spec = one_queue(argc, argv, "pop", 0);
	if (is_sysv(spec)) {
		sysv_parse(spec, &sv, 0);
		return sysv_pop(&sv, &o);
	}
	if (q_open(&q, spec, !o.nowait) < 0)
		return 1;
	out_setup();
	if (!o.nowait)
		q_watch(&q);	/* before the first look */
	stop_status = forever ? 0 : 1;
	stop_setup();
	st = pop_store(&q, &o);
	if (stopping && forever)
		st = 0;
	q_close(&q);
	return st;
}

static int
cmd_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "max-attempts", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o = { .count = 1, .max_attempts = 5 };
	const char *spec;
	int c, st, counted = 0;
	struct q q;

	while ((c = sub_getopt(argc, argv, "+0c:fh", lo)) != -1) {
		switch (c) {
		case '0':
			delim = '\0';
			break;
		case 'c':
			if (int_parse(optarg, 1, LLONG_MAX, &o.count) < 0)
				die(2, "run: bad COUNT '%s'", optarg);
			counted = 1;
			break;
		case 'f':
			o.forever = 1;
			break;
		case 'm':
			if (int_parse(optarg, 1, UINT32_MAX - 1,
			    &o.max_attempts) < 0)
				die(2, "run: bad --max-attempts '%s'", optarg);
			break;
		}
	}
	if (o.forever && counted)
		die(2, "run: -c and -f exclude each other");
	spec = one_queue(argc, argv, "run", 1);
	no_sysv(spec, "run");
	optind++;
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc)
		die(2, "run: COMMAND missing");
	q_open(&q, spec, 1);
	q_watch(&q);
	stop_status = 0;
	stop_setup();
	st = run_store(&q, &o, argv + optind);
	q_close(&q);
	return st;
}

/* peek, len, stat, ls, purge, dead: QUEUE and at most -0, --requeue. */
static int
cmd_small(const char *cmd, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "requeue", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, requeue = 0, st = 0, is_dead = strcmp(cmd, "dead") == 0;
	const char *spec = NULL;
	struct rec r;
	struct sysv sv;
	struct q q;
	char *data;

	while ((c = sub_getopt(argc, argv, "+0h", lo)) != -1) {
		if (c == '0' && (is_dead || strcmp(cmd, "peek") == 0))
			delim = '\0';
		else if (c == 'r' && is_dead)
			requeue = 1;
		else
			die(2, "%s: unknown option '%s'", cmd,
			    argv[optind - 1]);
	}
	if (strcmp(cmd, "ls") == 0) {
		if (optind < argc)
			die(2, "ls: unexpected argument '%s'", argv[optind]);
		return cmd_ls();
	}
	if (strcmp(cmd, "stat") == 0 && optind >= argc)
		return cmd_stat(NULL);
	spec = one_queue(argc, argv, cmd, 0);
	if (is_sysv(spec) && (strcmp(cmd, "len") == 0 ||
	    strcmp(cmd, "stat") == 0)) {
		sysv_parse(spec, &sv, 0);
		if (cmd[0] == 's')
			printf("name length bytes oldest-age inflight dead\n");
		return sysv_stat(&sv, cmd[0] == 'l');
	}
	no_sysv(spec, cmd);
	if (strcmp(cmd, "stat") == 0)
		return cmd_stat(spec);
	if (q_open(&q, spec, 0) < 0) {
		if (strcmp(cmd, "len") == 0) {
			puts("0");
			return 0;
		}
		if (strcmp(cmd, "peek") == 0)
			return 1;
		q_resolve(&q, spec);
		die(1, "%s: no such queue (%s)", spec, q.path);
	}
	if (strcmp(cmd, "len") == 0) {
		struct pos h, t;

		HEAD_LOAD(&q, &h);
		TAIL_LOAD(&q, &t);
		printf("%llu\n", (unsigned long long)(t.seq - h.seq));
	} else if (strcmp(cmd, "peek") == 0) {
		out_setup();
		st = q_peek(&q, &r, &data) ? out_message(data, r.len) < 0 &&
		    errno != EPIPE : 1;
	} else if (strcmp(cmd, "purge") == 0) {
		st = cmd_purge(&q);
	} else {
		st = cmd_dead(&q, requeue);
	}
	q_close(&q);
	return st;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const small[] = {
		"peek", "len", "stat", "ls", "purge", "dead", NULL,
	};
	const char *cmd;
	int c, i, st;

	msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:d:hqvV", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			qdir = optarg;
			break;
		case 'h':
			usage();
			break;
		case 'q':
			msg_level = MSG_QUIET;
			break;
		case 'v':
			msg_level = MSG_VERBOSE;
			break;
		case 'V':
			msg_version();
			break;
		default:
			die_badopt(c, argv);
		}
	}
	if (optind >= argc)
		die(2, "COMMAND missing (push, pop, run, peek, len, stat, ls, "
		    "purge, dead); see pqueue -h");
	crc_init();
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: start the subcommand's getopt afresh */
	if (strcmp(cmd, "push") == 0)
		st = cmd_push(argc, argv);
	else if (strcmp(cmd, "pop") == 0)
		st = cmd_pop(argc, argv);
	else if (strcmp(cmd, "run") == 0)
		st = cmd_run(argc, argv);
	else {
		for (i = 0; small[i] != NULL; i++)
			if (strcmp(cmd, small[i]) == 0)
				break;
		if (small[i] == NULL)
			die(2, "unknown command '%s'; see pqueue -h", cmd);
		st = cmd_small(cmd, argc, argv);
	}
	if (fflush(stdout) != 0 && errno != EPIPE)
		die(1, "write:");
	return st;
}
