/*
 * store: pqueue's durable on-disk queue.
 *
 * A queue is a directory (0700) holding:
 *   state          4 KiB, shared with mmap: the committed tail and head
 *                  positions, the dead-letter length, the boot it is
 *                  current in, and the lock bytes
 *   SSSS.seg       append-only log segments (SSSS: 16 hex digits, counting
 *                  up); a writer rolls to the next segment past 64 MiB
 *   dead           dead-letter log, same record format
 *   lease/ID.PID   one message leased by a runner, write-locked by it
 *   lease/ID.@DUE  a message whose retry waits until DUE (16 hex digits,
 *                  ns since the epoch): a lease given back with a delay
 *   lease/0.@DUE.PID.N  a message pushed with a delay (id 0, attempt 0)
 * A record is a 32-byte header { u32 len, u32 crc32c, u64 id, i64 push
 * time (ns), u32 attempt, u32 flags } in host byte order, then len bytes.
 * The CRC covers the header fields but crc, then the data, then the id.
 * A dead letter may carry a note (why it died) after its message: then
 * flags has bit 31 set and the note's length in its low 16 bits, and len
 * counts both; older dead letters have flags 0 and read as they are.
 * A position is { segment, offset, seq, bytes }: seq counts records and
 * bytes payload since the queue was made, so length = tail.seq - head.seq.
 *
 * Commit. Each position is stored twice in `state` with a generation
 * counter; a writer fills the slot the counter does not point at, then
 * bumps the counter with one 8-byte store, so a kill -9 at any instant
 * leaves the old or the new position (readers use it as a seqlock).
 * Producers pwrite whole batches at the tail and then commit the tail: a
 * torn write lies beyond the tail and is overwritten by the next writer.
 * Consumers read up to the committed tail, check every CRC, hand out a
 * message (or several: store_take_next) and commit the head past it (the
 * last of them) when acknowledged. A record whose CRC fails is skipped
 * with a report: alone when its length leads to a sound record or to the
 * committed tail (its frame is sound), else with the rest of its segment.
 *
 * Locks are fcntl record locks on single bytes of `state`, released by
 * the kernel when their holder dies: DEAD (byte 2) before HEAD (byte 1)
 * before APPEND (byte 0); producers take APPEND only, consumers HEAD. A
 * contended lock is waited for by the caller's lock-wait hook, so the
 * caller decides how a wait is interrupted.
 *
 * Durability (sync). A sync push fdatasyncs the segment, and fsyncs the
 * directory once per segment (`state` remembers which segment's name is
 * durable): one device flush. `state` itself is never synced, so after
 * a crash its tail may lag records that were synced. `state` holds the
 * boot it is current in; the first writable open in another boot scans
 * on from the committed tail over records with a right CRC and an id not
 * beyond the sequence (into the next segment when the tail's ends
 * cleanly) and commits them. No old record lies at a tail: an emptied
 * tail moves on to a new, empty segment, and a roll truncates the old
 * segment at its tail; so a scan finds synced records, or whole records
 * of a producer killed before its commit (never acknowledged, never
 * delivered), never a consumed one.
 *
 * Format version. `state` says version 1. Version 1 queues made before
 * delays existed are read as they are: the delayed files are an addition
 * inside lease/, so nothing is rewritten. The boot and the durable
 * segment name use bytes of `state` that older versions leave zero and
 * never read (an old queue is scanned once, as after a reboot). An older pqueue that meets a
 * delayed file takes it for the lease of a dead holder and delivers the
 * message at once (early, never lost). Once due, a delayed file is
 * appended at the tail with attempt + 1 (a fresh id for id 0) and
 * removed, as a dead holder's lease is; consumers look for due ones when
 * the queue is empty and, while it is not, whenever they take HEAD and
 * one is due (or a second has passed since their last look).
 *
 * Library rules: nothing here prints or exits. Failures and warnings go
 * to the caller's report hook as one line of text (and an errno), then
 * the function returns -1 with errno set.
 */
#ifndef PKIT_STORE_H
#define PKIT_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_MSG_LIMIT	(1ULL << 30)	/* longest message */
#define STORE_FLUSH_AT	(1 << 20)	/* a good batch size, bytes */
#define STORE_NOTE_MAX	8192		/* longest dead-letter note kept */

struct store;

enum { STORE_ERROR, STORE_WARN, STORE_NOTICE, STORE_VERBOSE };

struct store_hooks {
	/* One line of text for the user, errnum 0 or an errno to append. */
	void (*report)(void *arg, int level, int errnum, const char *text);
	/* Wait for the fcntl lock fl on fd that F_SETLK found busy: 0 once
	 * taken, -1 with errno (EINTR: stop, nothing reported). NULL: a
	 * plain F_SETLKW. */
	int (*lockwait)(void *arg, int fd, void *fl);
	void *arg;
	const char *name;	/* the queue's name in messages (the path) */
};

enum {
	STORE_CREATE = 1,	/* make the queue if missing */
	STORE_MKDIRS = 2,	/* with CREATE: make the parent (mkdir -p) */
	STORE_READ = 4,		/* may open state read-only (EROFS, EACCES) */
	STORE_SHARED = 8,	/* the parent is the shared /tmp directory:
				 * after CREATE it must be ours alone */
};

/* The path of the queue spec in path: "/PATH" and "./PATH" as given, a
 * NAME under store_dir(dir); for a NAME, *flags gets STORE_MKDIRS, and
 * STORE_SHARED for the shared /tmp directory. 0, or -1 with errno:
 * EINVAL an invalid name, ENAMETOOLONG, EPERM the shared directory
 * exists and is not private (store_dir_private). Nothing reported. */
int store_path(const char *dir, const char *spec, char *path, size_t size,
    int *flags);

/* Open the queue at path. 0 with *sp set, or -1 with errno: ENOENT when
 * it does not exist and STORE_CREATE is not given (not reported), EPERM
 * when STORE_SHARED and CREATE are given and the parent directory is
 * not private (reported),
 * EUCLEAN when state and segments disagree (reported; see store_fsck),
 * others reported. */
int store_open(struct store **sp, const char *path, int flags,
    const struct store_hooks *h);
void store_close(struct store *s);

/* The directory of named queues: dir if not NULL, else $PQUEUE_DIR,
 * else $XDG_RUNTIME_DIR/pqueue, else /tmp/pqueue-UID (then *is_tmp is
 * set: a shared directory that store_dir_private must approve). The
 * result may be in buf. */
const char *store_dir(const char *dir, char *buf, size_t size, int *is_tmp);
/* Is d a directory of this user's, not a symlink, mode 0700? 0, or -1
 * with errno (EPERM when it is someone else's or open to others). */
int store_dir_private(const char *d);
/* The names of the queues in dir, sorted, in a malloc'd array of
 * malloc'd strings. 0 (none: *n 0, also when dir does not exist), or -1
 * with errno. */
int store_list(const char *dir, char ***names, size_t *n);

/* Is name a valid queue name (letters, digits, '.', '_', '-', not
 * starting with '.')? 1 or 0. */
int store_name_valid(const char *name);

/* A batch of records, pushed all or nothing. */
struct store_batch {
	char *buf;
	size_t len, cap;
	uint64_t nrec, nbytes;
};
/* Add one message: 0, or -1 with errno ENOMEM. */
int store_batch_add(struct store_batch *b, const void *data, size_t len,
    int64_t time);
void store_batch_reset(struct store_batch *b);
void store_batch_free(struct store_batch *b);

/* Append the batch at the tail and commit it (sync: fdatasync/msync
 * before). 0, or -1 (reported): nothing of the batch is in the queue. */
int store_push(struct store *s, struct store_batch *b, int sync);

/* Push msgs[0..n), or when n is 0 the records of fd (ended by delim),
 * each read stored before the next read may block. Messages longer than
 * max are left out with a report. 0, or -1 (reported) when any message
 * was left out or could not be stored. */
int store_push_input(struct store *s, char **msgs, int n, int fd,
    int delim, uint64_t max, int sync);

/* From now on, store_push (and store_push_input) writes each message as
 * a delayed one, not delivered before due (wall ns since the epoch); 0
 * ends that. */
void store_push_delay(struct store *s, int64_t due);

/* A lock-wait hook (struct store_hooks) for callers that block their
 * stop signals (lib/loop): F_SETLKW, woken by a repeating 10 ms
 * SIGALRM (handler installed for the wait, restored after) to look for
 * a pending signal of the sigset_t that arg points to; one there ends
 * the wait with EINTR. An empty set: a plain F_SETLKW. */
int store_lockwait_signals(void *arg, int fd, void *fl);

/* A message handed out by store_take or store_peek. data stays valid
 * until the next call on the store. */
struct store_msg {
	uint64_t id;
	int64_t time;		/* push time, ns since the epoch */
	uint32_t attempt;
	uint32_t len;
	const char *data;
	uint64_t pos[4];	/* private */
};

/* The oldest message, with HEAD held (taken if not held; given up now
 * and then so other consumers get a turn). Returns 1 (message in *m), 0
 * when the queue is empty (HEAD released, leases of dead holders given
 * back first), -1 with errno (EINTR from the lock-wait hook). */
int store_take(struct store *s, struct store_msg *m);
/* The message after m (from store_take or store_take_next, not yet
 * acknowledged), HEAD still held: a consumer may take several messages
 * and then acknowledge only the last (store_ack commits the head past
 * it, so past every one before it). m->data is invalid after the call.
 * Returns 1 (message in *next), 0 when no further message is committed
 * now, -1 on a read error (reported). Never waits, never releases HEAD. */
int store_take_next(struct store *s, const struct store_msg *m,
    struct store_msg *next);
/* Commit the head past m (taken by store_take or store_take_next, HEAD
 * still held). 0. */
int store_ack(struct store *s, const struct store_msg *m);
/* Release HEAD if held. */
void store_release(struct store *s);

/* The oldest message without taking it: 1, 0 empty, -1 with errno. */
int store_peek(struct store *s, struct store_msg *m);

/* A watch fd to poll for input: readable when the queue may have
 * changed (a hint only: look again with store_take). Made on first
 * call; -1 (reported) when no watch can be had: then look every 10 ms. */
int store_watch(struct store *s);
/* Discard the watch's pending events. */
void store_watch_drain(struct store *s);

/* A leased message (run): the record lives in lease/ID.PID, locked by
 * us, so it comes back (attempt + 1) if we die. */
struct store_lease {
	int fd;			/* the lease file, offset at the message */
	char *path;
	char *data;		/* a copy of the message */
	struct store_msg m;
	/* Set by the caller before store_settle(STORE_DEAD): why it died,
	 * kept with the dead letter (its last STORE_NOTE_MAX bytes). */
	const char *note;
	size_t notelen;
};
/* Lease m (from store_take), commit the head and release HEAD. The
 * lease file holds the record and then delim. 0, or -1 (reported;
 * the message stays in the queue). */
int store_lease(struct store *s, const struct store_msg *m, int delim,
    struct store_lease *l);
enum { STORE_AGAIN, STORE_ASIS, STORE_DEAD };
/* Settle a lease: STORE_AGAIN appends the message with attempt + 1,
 * STORE_ASIS with the same attempt, STORE_DEAD to the dead-letter log;
 * only when that append succeeded is the lease removed. -1 (reported):
 * the lease file stays (unlocked once closed), so the message comes
 * back later. Either way l is closed and freed. */
int store_settle(struct store *s, struct store_lease *l, int how);
/* Give the lease back to come again (attempt + 1) at due (wall ns): the
 * lease file is renamed to a delayed one, so nothing is appended. 0, or
 * -1 (reported): the lease stays and comes back at once. l is closed and
 * freed either way. */
int store_settle_delay(struct store *s, struct store_lease *l, int64_t due);
/* The earliest due time (wall ns) of a delayed message seen by this
 * store's last look (store_take finding the queue empty), or -1. */
int64_t store_next_due(const struct store *s);
/* The message was handled: remove the lease. */
void store_done(struct store *s, struct store_lease *l);

struct store_stat {
	uint64_t length, bytes;
	int64_t oldest;		/* push time of the oldest, -1 if empty */
	uint64_t inflight, dead;
	uint64_t delayed;	/* messages waiting for their time */
};
/* Fill *st. 0, or -1 with errno. */
int store_stat(struct store *s, struct store_stat *st);
/* The number of messages (tail.seq - head.seq). */
uint64_t store_len(struct store *s);

/* Drop every message, delayed message and dead letter; the tail
 * segment is emptied; held leases stay.
 * 0 or -1 with errno. */
int store_purge(struct store *s);

/* Call fn for each intact dead letter (DEAD held shared); fn returns 0
 * to go on, -1 to stop. Returns 0, or -1 when fn stopped it or the lock
 * wait was interrupted (EINTR). */
int store_dead_walk(struct store *s,
    int (*fn)(void *arg, const char *data, size_t len), void *arg);
/* A dead letter as store_dead_list hands it out. */
struct store_dead {
	const char *data;	/* the message */
	size_t len;
	const char *note;	/* why it died; notelen 0: no note (older) */
	size_t notelen;
	uint64_t id;
	int64_t time;		/* push time, ns since the epoch */
	uint32_t attempt;	/* the attempts it had */
};
/* Like store_dead_walk, with each letter's note and header. */
int store_dead_list(struct store *s,
    int (*fn)(void *arg, const struct store_dead *d), void *arg);
/* A dead letter's note: "TIME exit|signal N\n" and then the tail of the
 * command's stderr. store_note_make writes one for wait status wstatus
 * at time (wall ns) into buf and returns its length (the tail cut to
 * fit; 0 when even the first line does not). */
size_t store_note_make(char *buf, size_t size, int64_t time, int wstatus,
    const char *tail, size_t taillen);
struct store_note {
	int64_t time;		/* when it died, ns since the epoch */
	int signaled;		/* status is a signal number, else exit */
	int status;
	const char *tail;	/* stderr tail, in d's note */
	size_t taillen;
};
/* Read d's note into *n: 0, or -1 when it has none (or not one of ours). */
int store_note_parse(const struct store_dead *d, struct store_note *n);

/* Move every dead letter back to the queue (attempt 1), notes dropped.
 * 0 or -1. */
int store_dead_requeue(struct store *s);

/* Rebuild `state` from the CRC-checked records of the segments at path:
 * the head at the first intact record of the lowest segment, the tail
 * after the last intact record of the highest; the dead-letter length
 * from the intact prefix of `dead`. Holds every lock while it works.
 * Returns the number of messages found, or -1 (reported). */
long long store_fsck(const char *path, const struct store_hooks *h);

#endif
