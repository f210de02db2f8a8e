// SPDX-License-Identifier: GPL-2.0-only
/*
 * pit-writer - checks that a snapshot is one point in time of its devices
 * while writes race with the take.
 *
 *   pit-writer init [--no-direct] DEV...
 *   pit-writer run --log FILE [--seconds N] [--threads N] [--max-writes N]
 *                  [--no-direct] DEV...
 *   pit-writer now
 *   pit-writer verify --log FILE --t0 NS --t1 NS [--no-direct] ORIG=IMAGE...
 *   pit-writer hash [--no-direct] DEV...
 *   pit-writer apply --map FILE --above N --block-size B SRC DST
 *   pit-writer compare A B
 *
 * Every 4 KiB block of the devices holds one record: the device's index in
 * the DEV list, the block number, a sequence number (0 from init, then one
 * per write, unique and increasing across all devices) and a checksum.  Each
 * of the block's eight sectors starts with the record's header and the rest
 * is a pattern derived from it, so a block made of parts of two writes (torn)
 * or moved to the wrong place is told apart from a whole one.
 *
 * "run" writes random blocks from several threads with O_DIRECT, never two
 * writes to one block at a time (so a block's content is the write to it
 * that completed last) and logs {seq, dev, block, submit, complete} with
 * CLOCK_MONOTONIC times; "now" prints that clock.  A test reads the clock
 * just before the take (t0) and just after it returned (t1).  "verify" then
 * checks each image block: whole and in its place; not a write submitted
 * after t1; not older than the last write to it that completed before t0,
 * nor than one that completed before any write the images hold was
 * submitted (so all devices are one instant, not each its own).
 *
 * Data and the log are in the host's byte order: one machine writes and
 * reads them.  Exit status: 0 on success, 1 when verify found a violation or
 * something failed, 2 on a command-line error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>	/* BLKGETSIZE64 */
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define PIT_BLOCK_SIZE		4096u
#define PIT_SECTOR_SIZE		512u
#define SECTORS_PER_BLOCK	(PIT_BLOCK_SIZE / PIT_SECTOR_SIZE)
#define IO_SIZE			(1u << 20)	/* sequential reads and writes */
#define MAX_DEVS		16u
#define MAX_THREADS		64u
#define DEFAULT_THREADS		4u
#define DEFAULT_MAX_WRITES	(1ull << 20)	/* 32 MiB of log */
#define MAX_REPORTED		10u		/* violations listed in full */

#define RECORD_MAGIC		UINT64_C(0x7469702d77726974)	/* "tirw-pit" */
#define LOG_MAGIC		"PITLOG1"

#define EXIT_USAGE		2


/* Report a failure on stderr, with strerror(-r) if r < 0; return r or -EIO. */
static _printf_(2, 3) int log_error(int r, const char *fmt, ...)
{
	va_list ap;

	fputs("pit-writer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (r < 0)
		fprintf(stderr, ": %s", strerror(-r));
	fputc('\n', stderr);
	return r < 0 ? r : -EIO;
}

#define R_USAGE (-4096)		/* a usage error, already reported */

static _printf_(1, 2) int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("pit-writer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'pit-writer --help'.\n", stderr);
	return R_USAGE;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static uint64_t splitmix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* FNV-1a over 64-bit words: fast enough for every block under emulation. */
static uint64_t fnv1a64_words(const uint64_t *w, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < n; i++)
		h = (h ^ w[i]) * UINT64_C(0x100000001b3);
	return h;
}

/* ---- the record in a block ---------------------------------------------- */

/* At the start of each sector of a block; the rest of the sector is filler. */
struct record_header {
	uint64_t magic;
	uint64_t seq;
	uint64_t block;
	uint32_t dev;
	uint32_t sector;	/* 0..7: the sector's place in the block */
};

#define BLOCK_WORDS	(PIT_BLOCK_SIZE / sizeof(uint64_t))
#define SECTOR_WORDS	(PIT_SECTOR_SIZE / sizeof(uint64_t))
#define HEADER_WORDS	(sizeof(struct record_header) / sizeof(uint64_t))

/*
 * Fill buf with the record {dev, block, seq}: in each sector, the header and
 * then words derived from the record; the block's last word is the checksum,
 * FNV-1a of all words before it.
 */
static void block_fill(void *buf, uint32_t dev, uint64_t block, uint64_t seq)
{
	uint64_t *w = buf;
	uint64_t seed = splitmix64(seq) ^ splitmix64(block ^ ((uint64_t)dev << 48));

	for (unsigned s = 0; s < SECTORS_PER_BLOCK; s++) {
		struct record_header h = {
			.magic = RECORD_MAGIC, .seq = seq, .block = block,
			.dev = dev, .sector = s,
		};
		uint64_t *sw = w + s * SECTOR_WORDS;

		memcpy(sw, &h, sizeof(h));
		for (size_t i = HEADER_WORDS; i < SECTOR_WORDS; i++)
			sw[i] = seed + s * SECTOR_WORDS + i;
	}
	w[BLOCK_WORDS - 1] = fnv1a64_words(w, BLOCK_WORDS - 1);
}

enum block_state {
	BLOCK_WHOLE,		/* one record, intact */
	BLOCK_TORN,		/* parts of several records, or garbage */
};

/*
 * Tell whether buf holds exactly one record, by rebuilding the record its
 * first sector names and comparing all of it.  Return the record's header.
 */
static enum block_state block_parse(const void *buf, struct record_header *ret)
{
	uint64_t expect[BLOCK_WORDS];

	memcpy(ret, buf, sizeof(*ret));
	if (ret->magic != RECORD_MAGIC || ret->dev >= MAX_DEVS)
		return BLOCK_TORN;
	block_fill(expect, ret->dev, ret->block, ret->seq);
	return memcmp(expect, buf, PIT_BLOCK_SIZE) == 0 ? BLOCK_WHOLE : BLOCK_TORN;
}

/* "seq/seq/.../seq" of the eight sectors' headers, '?' for a bad header. */
static void block_describe(const void *buf, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (unsigned s = 0; s < SECTORS_PER_BLOCK && n < size; s++) {
		struct record_header h;

		memcpy(&h, (const char *)buf + s * PIT_SECTOR_SIZE, sizeof(h));
		if (h.magic == RECORD_MAGIC && h.sector == s)
			n += snprintf(out + n, size - n, "%s%" PRIu64, s ? "/" : "", h.seq);
		else
			n += snprintf(out + n, size - n, "%s?", s ? "/" : "");
	}
}

/* ---- devices ------------------------------------------------------------ */

struct device {
	const char *path;
	int fd;
	uint64_t blocks;	/* whole 4 KiB blocks */
};

static void devices_close(struct device *devs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (devs[i].fd >= 0)
			close(devs[i].fd);
}

/* A block device or a regular file; O_DIRECT unless direct is false. */
static int device_open(struct device *d, const char *path, int flags, bool direct)
{
	struct stat st;
	uint64_t bytes;
	int fd;

	fd = open(path, flags | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (fd < 0)
		return log_error(-errno, "cannot open %s", path);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return log_error(-errno, "cannot stat %s", path);
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
			close(fd);
			return log_error(-errno, "cannot get the size of %s", path);
		}
	} else if (S_ISREG(st.st_mode)) {
		bytes = (uint64_t)st.st_size;
	} else {
		close(fd);
		return log_error(-ENOTBLK, "%s", path);
	}
	*d = (struct device) { .path = path, .fd = fd, .blocks = bytes / PIT_BLOCK_SIZE };
	return 0;
}

static int devices_open(struct device *devs, char **paths, unsigned n, int flags, bool direct)
{
	for (unsigned i = 0; i < n; i++)
		devs[i].fd = -1;
	for (unsigned i = 0; i < n; i++) {
		int r = device_open(&devs[i], paths[i], flags, direct);

		if (r < 0) {
			devices_close(devs, i);
			return r;
		}
	}
	return 0;
}

/* pread/pwrite all of len bytes, or fail. */
static int pio_full(bool write, int fd, void *buf, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t k = write ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ENOSPC;	/* end of the device */
		buf = (char *)buf + k;
		len -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

static void *io_buffer(size_t size)
{
	void *p;

	return posix_memalign(&p, PIT_BLOCK_SIZE, size) == 0 ? p : NULL;
}

/* ---- the write log ------------------------------------------------------ */

struct log_header {
	char magic[8];		/* LOG_MAGIC */
	uint32_t ndevs;
	uint32_t reserved;
	uint64_t nwrites;	/* entries; entry i has seq i + 1 */
};

struct log_device {		/* ndevs of them follow the header */
	uint64_t blocks;
	char path[248];
};

struct log_entry {		/* nwrites of them follow the devices */
	uint64_t seq;
	uint64_t submit_ns;
	uint64_t complete_ns;
	uint32_t dev;
	uint32_t block;
};

struct write_log {
	uint32_t ndevs;
	struct log_device devs[MAX_DEVS];
	uint64_t nwrites;
	struct log_entry *entries;
};

/* Write the log to f, created before the writes began (path: for messages). */
static int log_save(FILE *f, const char *path, const struct device *devs, unsigned ndevs,
		    const struct log_entry *entries, uint64_t nwrites)
{
	struct log_header h = { .magic = LOG_MAGIC, .ndevs = ndevs, .nwrites = nwrites };

	fwrite(&h, sizeof(h), 1, f);
	for (unsigned i = 0; i < ndevs; i++) {
		struct log_device d = { .blocks = devs[i].blocks };

		snprintf(d.path, sizeof(d.path), "%s", devs[i].path);
		fwrite(&d, sizeof(d), 1, f);
	}
	fwrite(entries, sizeof(*entries), nwrites, f);
	if (fflush(f) != 0 || ferror(f))
		return log_error(errno ? -errno : -EIO, "cannot write %s", path);
	return 0;
}

static int log_load(const char *path, struct write_log *ret)
{
	_cleanup_(fclosep) FILE *f = NULL;
	_cleanup_(freep) struct log_entry *entries = NULL;
	struct log_header h;

	f = fopen(path, "re");
	if (!f)
		return log_error(-errno, "cannot open %s", path);
	if (fread(&h, sizeof(h), 1, f) != 1 || memcmp(h.magic, LOG_MAGIC, sizeof(h.magic)) ||
	    h.ndevs == 0 || h.ndevs > MAX_DEVS || h.nwrites > UINT32_MAX)
		return log_error(-EINVAL, "%s is not a pit-writer log", path);
	if (fread(ret->devs, sizeof(ret->devs[0]), h.ndevs, f) != h.ndevs)
		return log_error(-EINVAL, "%s: truncated", path);
	for (unsigned i = 0; i < h.ndevs; i++)
		ret->devs[i].path[sizeof(ret->devs[i].path) - 1] = '\0';
	entries = calloc(h.nwrites ? h.nwrites : 1, sizeof(*entries));
	if (!entries)
		return log_error(-ENOMEM, "%s", path);
	if (fread(entries, sizeof(*entries), h.nwrites, f) != h.nwrites)
		return log_error(-EINVAL, "%s: truncated", path);
	for (uint64_t i = 0; i < h.nwrites; i++) {
		const struct log_entry *e = &entries[i];

		if (e->seq != i + 1 || e->dev >= h.ndevs || e->block >= ret->devs[e->dev].blocks ||
		    e->complete_ns < e->submit_ns)
			return log_error(-EINVAL, "%s: bad entry %" PRIu64, path, i);
	}
	ret->ndevs = h.ndevs;
	ret->nwrites = h.nwrites;
	ret->entries = entries;
	entries = NULL;
	return 0;
}

/* ---- options ------------------------------------------------------------ */

struct options {
	const char *log;
	uint64_t seconds;	/* 0: until SIGTERM or SIGINT */
	uint64_t threads;
	uint64_t max_writes;
	uint64_t t0, t1;
	bool have_t0, have_t1;
	bool direct;
};

/* Parse the options of argv[1..]; *ret_optind is the first operand's index. */
static int options_parse(int argc, char **argv, const char *allowed, struct options *o,
			 int *ret_optind)
{
	static const struct {
		const char *name;
		char key;
	} table[] = {
		{ "--log", 'l' }, { "--seconds", 's' }, { "--threads", 't' },
		{ "--max-writes", 'm' }, { "--t0", '0' }, { "--t1", '1' },
		{ "--no-direct", 'n' },
	};
	int i;

	*o = (struct options) {
		.threads = DEFAULT_THREADS, .max_writes = DEFAULT_MAX_WRITES, .direct = true,
	};
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *value = NULL;
		uint64_t v = 0;
		size_t k;

		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		for (k = 0; k < ELEMENTSOF(table); k++)
			if (strcmp(argv[i], table[k].name) == 0)
				break;
		if (k == ELEMENTSOF(table) || !strchr(allowed, table[k].key))
			return usage_error("%s: unknown option '%s'", argv[0], argv[i]);
		if (table[k].key == 'n') {
			o->direct = false;
			continue;
		}
		if (i + 1 >= argc)
			return usage_error("%s needs a value", argv[i]);
		value = argv[++i];
		if (table[k].key != 'l' && parse_u64(value, &v) < 0)
			return usage_error("%s: bad number '%s'", argv[i - 1], value);
		switch (table[k].key) {
		case 'l': o->log = value; break;
		case 's': o->seconds = v; break;
		case 't': o->threads = v; break;
		case 'm': o->max_writes = v; break;
		case '0': o->t0 = v; o->have_t0 = true; break;
		case '1': o->t1 = v; o->have_t1 = true; break;
		}
	}
	if (i >= argc)
		return usage_error("%s: no devices given", argv[0]);
	if ((unsigned)(argc - i) > MAX_DEVS)
		return usage_error("%s: at most %u devices", argv[0], MAX_DEVS);
	*ret_optind = i;
	return 0;
}

/* ---- init --------------------------------------------------------------- */

static int cmd_init(int argc, char **argv)
{
	_cleanup_(freep) void *buf = NULL;
	struct device devs[MAX_DEVS];
	struct options o;
	unsigned n;
	int first, r;

	r = options_parse(argc, argv, "n", &o, &first);
	if (r < 0)
		return r;
	n = (unsigned)(argc - first);
	buf = io_buffer(IO_SIZE);
	if (!buf)
		return log_error(-ENOMEM, "init");
	r = devices_open(devs, argv + first, n, O_WRONLY, o.direct);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n && r >= 0; i++) {
		for (uint64_t b = 0; b < devs[i].blocks && r >= 0; b += IO_SIZE / PIT_BLOCK_SIZE) {
			uint64_t count = devs[i].blocks - b;

			if (count > IO_SIZE / PIT_BLOCK_SIZE)
				count = IO_SIZE / PIT_BLOCK_SIZE;
			for (uint64_t k = 0; k < count; k++)
				block_fill((char *)buf + k * PIT_BLOCK_SIZE, i, b + k, 0);
			r = pio_full(true, devs[i].fd, buf, count * PIT_BLOCK_SIZE, b * PIT_BLOCK_SIZE);
			if (r < 0)
				log_error(r, "cannot write %s at block %" PRIu64, devs[i].path, b);
		}
		if (r >= 0 && fsync(devs[i].fd) < 0)
			r = log_error(-errno, "cannot sync %s", devs[i].path);
		if (r >= 0)
			printf("dev=%u path=%s blocks=%" PRIu64 "\n", i, devs[i].path, devs[i].blocks);
	}
	devices_close(devs, n);
	return r;
}

/* ---- run ---------------------------------------------------------------- */

/* Shared by the writer threads. */
struct writer {
	struct device devs[MAX_DEVS];
	unsigned ndevs;
	uint64_t total_blocks;
	struct log_entry *log;		/* log[seq - 1]: each seq's own slot */
	uint64_t max_writes;
	atomic_uint_fast64_t last_seq;	/* the last sequence number handed out */
	atomic_bool stop;
	atomic_int error;		/* the first failure, a negative errno */
	atomic_uchar *busy;		/* per block (across devices): a write in flight */
};

struct writer_thread {
	pthread_t thread;
	struct writer *w;
	uint64_t rng;
};

static uint64_t rng_next(uint64_t *state)
{
	*state += UINT64_C(0x9e3779b97f4a7c15);
	return splitmix64(*state);
}

static void *writer_thread_main(void *arg)
{
	struct writer_thread *t = arg;
	struct writer *w = t->w;
	_cleanup_(freep) void *buf = io_buffer(PIT_BLOCK_SIZE);

	if (!buf) {
		atomic_store(&w->error, -ENOMEM);
		atomic_store(&w->stop, true);
		return NULL;
	}
	while (!atomic_load(&w->stop)) {
		uint64_t g = rng_next(&t->rng) % w->total_blocks, block = g, seq;
		struct log_entry *e;
		unsigned dev = 0;
		int r;

		/* One write at a time per block, and its seq taken while it is ours. */
		if (atomic_exchange(&w->busy[g], 1))
			continue;
		seq = atomic_fetch_add(&w->last_seq, 1) + 1;
		if (seq > w->max_writes) {
			atomic_store(&w->stop, true);
			atomic_store(&w->busy[g], 0);
			break;
		}
		while (block >= w->devs[dev].blocks)
			block -= w->devs[dev++].blocks;

		block_fill(buf, dev, block, seq);
		e = &w->log[seq - 1];
		*e = (struct log_entry) { .seq = seq, .dev = dev, .block = (uint32_t)block };
		e->submit_ns = now_ns();
		r = pio_full(true, w->devs[dev].fd, buf, PIT_BLOCK_SIZE, block * PIT_BLOCK_SIZE);
		e->complete_ns = now_ns();
		atomic_store(&w->busy[g], 0);
		if (r < 0) {
			int none = 0;

			log_error(r, "cannot write %s block %" PRIu64, w->devs[dev].path, block);
			atomic_compare_exchange_strong(&w->error, &none, r);
			atomic_store(&w->stop, true);
		}
	}
	return NULL;
}

/* Sleep until the deadline (0: none), SIGTERM or SIGINT, or a thread stops. */
static void writer_wait(struct writer *w, uint64_t deadline)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	while (!atomic_load(&w->stop) && (!deadline || now_ns() < deadline)) {
		struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };

		if (sigtimedwait(&set, NULL, &tick) > 0)
			break;
	}
	atomic_store(&w->stop, true);
}

static int cmd_run(int argc, char **argv)
{
	_cleanup_(freep) struct writer *w = NULL;
	_cleanup_(freep) struct writer_thread *threads = NULL;
	_cleanup_(freep) atomic_uchar *busy = NULL;
	_cleanup_(freep) struct log_entry *log = NULL;
	_cleanup_(fclosep) FILE *log_file = NULL;
	struct options o;
	uint64_t start, nwrites, deadline;
	unsigned started = 0;
	sigset_t set;
	int first, r;

	r = options_parse(argc, argv, "lstmn", &o, &first);
	if (r < 0)
		return r;
	if (!o.log)
		return usage_error("run: --log FILE is required");
	if (o.threads < 1 || o.threads > MAX_THREADS)
		return usage_error("run: --threads wants 1..%u", MAX_THREADS);
	if (o.max_writes < 1 || o.max_writes > UINT32_MAX)
		return usage_error("run: --max-writes wants 1..%" PRIu32, UINT32_MAX);

	log_file = fopen(o.log, "we");
	if (!log_file)
		return log_error(-errno, "cannot create %s", o.log);
	w = calloc(1, sizeof(*w));
	threads = calloc(o.threads, sizeof(*threads));
	log = calloc(o.max_writes, sizeof(*log));
	if (!w || !threads || !log)
		return log_error(-ENOMEM, "run");
	w->ndevs = (unsigned)(argc - first);
	r = devices_open(w->devs, argv + first, w->ndevs, O_RDWR, o.direct);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < w->ndevs; i++) {
		if (w->devs[i].blocks > UINT32_MAX)
			r = log_error(-EFBIG, "%s: more than 2^32 blocks", w->devs[i].path);
		w->total_blocks += w->devs[i].blocks;
	}
	if (r >= 0 && w->total_blocks == 0)
		r = log_error(-ENOSPC, "run: the devices hold no whole 4 KiB block");
	busy = calloc(w->total_blocks ? w->total_blocks : 1, sizeof(*busy));
	if (r >= 0 && !busy)
		r = log_error(-ENOMEM, "run");
	if (r < 0) {
		devices_close(w->devs, w->ndevs);
		return r;
	}
	w->busy = busy;
	w->log = log;
	w->max_writes = o.max_writes;

	/* The threads inherit the blocked signals; only writer_wait() takes them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	start = now_ns();
	for (; started < o.threads; started++) {
		struct writer_thread *t = &threads[started];

		t->w = w;
		t->rng = start ^ splitmix64(started + 1) ^ ((uint64_t)getpid() << 32);
		r = -pthread_create(&t->thread, NULL, writer_thread_main, t);
		if (r < 0) {
			log_error(r, "cannot start a writer thread");
			atomic_store(&w->stop, true);
			break;
		}
	}
	deadline = o.seconds ? start + o.seconds * 1000000000u : 0;
	writer_wait(w, deadline);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i].thread, NULL);
	devices_close(w->devs, w->ndevs);
	if (r >= 0)
		r = atomic_load(&w->error);
	if (r < 0)
		return r;

	nwrites = atomic_load(&w->last_seq);
	if (nwrites > o.max_writes)
		nwrites = o.max_writes;
	r = log_save(log_file, o.log, w->devs, w->ndevs, log, nwrites);
	if (r < 0)
		return r;
	printf("writes=%" PRIu64 " seconds=%.1f threads=%" PRIu64 "%s\n", nwrites,
	       (double)(now_ns() - start) / 1e9, o.threads,
	       nwrites == o.max_writes ? " max-writes-reached" : "");
	return 0;
}

/* ---- now ---------------------------------------------------------------- */

static int cmd_now(int argc, char **argv)
{
	if (argc != 1)
		return usage_error("%s takes no arguments", argv[0]);
	printf("%" PRIu64 "\n", now_ns());
	return 0;
}

/* ---- verify ------------------------------------------------------------- */

#define SEQ_NONE UINT64_MAX	/* an image block without a valid record of its own */

struct verify {
	const struct write_log *log;
	uint64_t t0, t1;
	uint64_t *held[MAX_DEVS];	/* per image block: the seq it holds, or SEQ_NONE */
	uint64_t *must[MAX_DEVS];	/* per block: the seq it must hold at least */
	uint64_t violations;
};

static _printf_(2, 3) void violation(struct verify *v, const char *fmt, ...)
{
	va_list ap;

	if (v->violations++ >= MAX_REPORTED)
		return;
	fputs("violation: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* The seq that one image block holds, or SEQ_NONE after reporting why not. */
static uint64_t verify_block(struct verify *v, const void *buf, uint32_t dev, uint64_t block)
{
	const struct log_entry *e;
	struct record_header h;
	char parts[SECTORS_PER_BLOCK * 21];

	if (block_parse(buf, &h) == BLOCK_TORN) {
		block_describe(buf, parts, sizeof(parts));
		violation(v, "dev %u block %" PRIu64 ": torn or corrupt, sector seqs %s",
			  dev, block, parts);
		return SEQ_NONE;
	}
	if (h.dev != dev || h.block != block) {
		violation(v, "dev %u block %" PRIu64 ": holds the record of dev %u block %" PRIu64
			  " seq %" PRIu64, dev, block, h.dev, h.block, h.seq);
		return SEQ_NONE;
	}
	if (h.seq == 0)
		return 0;
	e = h.seq <= v->log->nwrites ? &v->log->entries[h.seq - 1] : NULL;
	if (!e || e->dev != dev || e->block != block) {
		violation(v, "dev %u block %" PRIu64 ": seq %" PRIu64
			  " is not a logged write to this block", dev, block, h.seq);
		return SEQ_NONE;
	}
	if (e->submit_ns > v->t1) {
		violation(v, "dev %u block %" PRIu64 ": seq %" PRIu64 " was submitted %.6f s"
			  " after the take returned", dev, block, h.seq,
			  (double)(e->submit_ns - v->t1) / 1e9);
		return SEQ_NONE;
	}
	return h.seq;
}

/* Read the image of device dev into v->held[dev]. */
static int verify_read_image(struct verify *v, uint32_t dev, const char *path, bool direct,
			     void *buf)
{
	uint64_t blocks = v->log->devs[dev].blocks;
	struct device d;
	int r;

	r = device_open(&d, path, O_RDONLY, direct);
	if (r < 0)
		return r;
	if (d.blocks != blocks)
		violation(v, "dev %u: %s has %" PRIu64 " blocks, the original %" PRIu64,
			  dev, path, d.blocks, blocks);
	if (d.blocks < blocks)
		blocks = d.blocks;
	for (uint64_t b = 0; b < blocks && r >= 0; b += IO_SIZE / PIT_BLOCK_SIZE) {
		uint64_t count = blocks - b;

		if (count > IO_SIZE / PIT_BLOCK_SIZE)
			count = IO_SIZE / PIT_BLOCK_SIZE;
		r = pio_full(false, d.fd, buf, count * PIT_BLOCK_SIZE, b * PIT_BLOCK_SIZE);
		if (r < 0) {
			log_error(r, "cannot read %s at block %" PRIu64, path, b);
			break;
		}
		for (uint64_t k = 0; k < count; k++)
			v->held[dev][b + k] = verify_block(v, (char *)buf + k * PIT_BLOCK_SIZE,
							   dev, b + k);
	}
	close(d.fd);
	return r;
}

/*
 * The images are one instant if what they hold is closed under "completed
 * before submitted": with cut the latest submission of a write they hold (t0
 * at least), every block holds the last write to it completed before cut, or
 * a later one.  That covers the writes completed before the take began, and
 * it catches devices switched at different instants.
 */
static void verify_instant(struct verify *v, const struct options *o)
{
	const struct write_log *log = v->log;
	uint64_t cut = o->t0, latest = 0, before = 0, during = 0, after = 0;
	uint64_t blocks = 0, initial = 0, from_before = 0, from_during = 0;

	for (uint32_t d = 0; d < log->ndevs; d++)
		for (uint64_t b = 0; b < log->devs[d].blocks; b++) {
			uint64_t seq = v->held[d][b];

			if (seq != SEQ_NONE && seq && log->entries[seq - 1].submit_ns > cut) {
				cut = log->entries[seq - 1].submit_ns;
				latest = seq;
			}
		}

	/* Entries are in seq order: the last one per block wins. */
	for (uint64_t i = 0; i < log->nwrites; i++) {
		const struct log_entry *e = &log->entries[i];

		if (e->complete_ns < cut)
			v->must[e->dev][e->block] = e->seq;
		if (e->complete_ns < o->t0)
			before++;
		else if (e->submit_ns <= o->t1)
			during++;
		else
			after++;
	}

	for (uint32_t d = 0; d < log->ndevs; d++)
		for (uint64_t b = 0; b < log->devs[d].blocks; b++) {
			uint64_t seq = v->held[d][b], must = v->must[d][b];
			const struct log_entry *m = must ? &log->entries[must - 1] : NULL;

			blocks++;
			if (seq == SEQ_NONE)
				continue;
			if (seq < must && m->complete_ns < o->t0)
				violation(v, "dev %u block %" PRIu64 ": holds seq %" PRIu64
					  ", older than seq %" PRIu64 ", completed %.6f s before"
					  " the take began", d, b, seq, must,
					  (double)(o->t0 - m->complete_ns) / 1e9);
			else if (seq < must)
				violation(v, "dev %u block %" PRIu64 ": holds seq %" PRIu64
					  ", older than seq %" PRIu64 ", completed before seq %"
					  PRIu64 " (dev %u block %u), which the images hold, was"
					  " submitted: not one instant", d, b, seq, must, latest,
					  log->entries[latest - 1].dev, log->entries[latest - 1].block);
			else if (seq == 0)
				initial++;
			else if (log->entries[seq - 1].complete_ns < o->t0)
				from_before++;
			else
				from_during++;
		}

	printf("blocks=%" PRIu64 " writes=%" PRIu64 " before=%" PRIu64 " during=%" PRIu64
	       " after=%" PRIu64 " take_us=%" PRIu64 "\n",
	       blocks, log->nwrites, before, during, after, (o->t1 - o->t0) / 1000);
	printf("image: initial=%" PRIu64 " from_before=%" PRIu64 " from_during=%" PRIu64
	       " cut_us=%" PRIu64 "\n", initial, from_before, from_during, (cut - o->t0) / 1000);
	printf("violations=%" PRIu64 "\n", v->violations);
}

static int cmd_verify(int argc, char **argv)
{
	_cleanup_(freep) struct write_log *log = NULL;
	_cleanup_(freep) void *buf = NULL;
	struct verify v = { 0 };
	struct options o;
	unsigned n;
	int first, r;

	r = options_parse(argc, argv, "l01n", &o, &first);
	if (r < 0)
		return r;
	if (!o.log || !o.have_t0 || !o.have_t1)
		return usage_error("verify: --log, --t0 and --t1 are required");
	if (o.t0 > o.t1)
		return usage_error("verify: t0 is after t1");
	log = calloc(1, sizeof(*log));
	buf = io_buffer(IO_SIZE);
	if (!log || !buf)
		return log_error(-ENOMEM, "verify");
	r = log_load(o.log, log);
	if (r < 0)
		return r;
	v = (struct verify) { .log = log, .t0 = o.t0, .t1 = o.t1 };
	n = (unsigned)(argc - first);
	if (n != log->ndevs) {
		r = usage_error("verify: the log has %u devices, %u given", log->ndevs, n);
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		const char *arg = argv[first + i], *eq = strchr(arg, '=');
		size_t len = eq ? (size_t)(eq - arg) : 0;

		if (!eq || strncmp(arg, log->devs[i].path, len) || log->devs[i].path[len]) {
			r = usage_error("verify: '%s' is not %s=IMAGE (device %u of the log)",
					arg, log->devs[i].path, i);
			goto out;
		}
		v.held[i] = calloc(log->devs[i].blocks + 1, sizeof(uint64_t));
		v.must[i] = calloc(log->devs[i].blocks + 1, sizeof(uint64_t));
		if (!v.held[i] || !v.must[i]) {
			r = log_error(-ENOMEM, "verify");
			goto out;
		}
		/* Blocks a short image lacks hold nothing. */
		for (uint64_t b = 0; b < log->devs[i].blocks; b++)
			v.held[i][b] = SEQ_NONE;
	}
	for (unsigned i = 0; i < n && r >= 0; i++)
		r = verify_read_image(&v, i, strchr(argv[first + i], '=') + 1, o.direct, buf);
	if (r < 0)
		goto out;
	verify_instant(&v, &o);
	r = v.violations ? -EUCLEAN : 0;
out:
	for (unsigned i = 0; i < MAX_DEVS; i++) {
		free(v.held[i]);
		free(v.must[i]);
	}
	free(log->entries);
	return r;
}

/* ---- hash --------------------------------------------------------------- */

static int cmd_hash(int argc, char **argv)
{
	_cleanup_(freep) void *buf = NULL;
	struct options o;
	int first, r;

	r = options_parse(argc, argv, "n", &o, &first);
	if (r < 0)
		return r;
	buf = io_buffer(IO_SIZE);
	if (!buf)
		return log_error(-ENOMEM, "hash");
	for (int i = first; i < argc; i++) {
		_cleanup_(closep) int fd = -1;
		struct device d;
		uint64_t h = 0, bytes;

		r = device_open(&d, argv[i], O_RDONLY, o.direct);
		if (r < 0)
			return r;
		fd = d.fd;
		bytes = d.blocks * PIT_BLOCK_SIZE;
		/* Each word mixed with its position, so moved data changes the hash. */
		for (uint64_t off = 0; off < bytes; off += IO_SIZE) {
			size_t len = bytes - off < IO_SIZE ? (size_t)(bytes - off) : IO_SIZE;
			const uint64_t *w = buf;

			r = pio_full(false, fd, buf, len, off);
			if (r < 0)
				return log_error(r, "cannot read %s", argv[i]);
			for (size_t k = 0; k < len / sizeof(*w); k++)
				h = splitmix64(h ^ w[k] ^ ((off / sizeof(*w) + k) << 1));
		}
		printf("%016" PRIx64 "  %" PRIu64 "  %s\n", h, d.blocks, argv[i]);
	}
	return 0;
}

/* ---- apply and compare: incremental backups --------------------------- */

/* Copy len bytes at off from src to dst, clipped to the source's size. */
static int copy_run(int src, int dst, void *buf, uint64_t off, uint64_t len,
		    uint64_t size, const char *src_path, const char *dst_path)
{
	int r;

	if (len > size - off)
		len = size - off;
	r = pio_full(false, src, buf, len, off);
	if (r < 0)
		return log_error(r, "cannot read %s", src_path);
	r = pio_full(true, dst, buf, len, off);
	if (r < 0)
		return log_error(r, "cannot write %s", dst_path);
	return 0;
}

/*
 * apply --map FILE --above N --block-size B SRC DST: copy from SRC to DST
 * every CBT block whose byte in the raw map FILE is greater than N (what an
 * incremental backup copies); print "applied=K blocks=M".
 */
static int cmd_apply(int argc, char **argv)
{
	_cleanup_(fclosep) FILE *map = NULL;
	_cleanup_(closep) int src = -1, dst = -1;
	_cleanup_(freep) void *buf = NULL;
	const char *map_path = NULL;
	uint64_t above = 0, bsize = 0, applied = 0, index = 0, run_off = 0, run_len = 0;
	struct device s, d;
	int c, r;

	if (argc != 9)
		return usage_error("usage: apply --map FILE --above N --block-size B SRC DST");
	for (int i = 1; i < 7; i += 2) {
		if (strcmp(argv[i], "--map") == 0)
			map_path = argv[i + 1];
		else if (strcmp(argv[i], "--above") == 0 && parse_u64(argv[i + 1], &above) == 0)
			continue;
		else if (strcmp(argv[i], "--block-size") == 0 &&
			 parse_u64(argv[i + 1], &bsize) == 0)
			continue;
		else
			return usage_error("apply: bad option '%s'", argv[i]);
	}
	if (!map_path || !bsize || bsize % PIT_BLOCK_SIZE || bsize > IO_SIZE)
		return usage_error("apply: --map and a block size of 4 KiB..1 MiB are needed");
	map = fopen(map_path, "re");
	if (!map)
		return log_error(-errno, "cannot open %s", map_path);
	r = device_open(&s, argv[7], O_RDONLY, true);
	if (r < 0)
		return r;
	src = s.fd;
	r = device_open(&d, argv[8], O_WRONLY, false);
	if (r < 0)
		return r;
	dst = d.fd;
	buf = io_buffer(IO_SIZE);
	if (!buf)
		return log_error(-ENOMEM, "apply");
	/* Runs of consecutive selected blocks, copied IO_SIZE at a time: a
	 * read per block would make each cycle of the tests a long wait. */
	for (;; index++) {
		bool selected;

		c = fgetc(map);
		selected = c != EOF && (uint64_t)c > above;
		if (selected && index * bsize >= s.blocks * PIT_BLOCK_SIZE)
			return log_error(-ERANGE, "map block %" PRIu64 " is past the end of %s",
					 index, argv[7]);
		/* a run ends at the first block not selected: it is contiguous */
		if (selected && run_len && run_len + bsize <= IO_SIZE) {
			run_len += bsize;
		} else {
			if (run_len) {
				r = copy_run(src, dst, buf, run_off, run_len,
					     s.blocks * PIT_BLOCK_SIZE, argv[7], argv[8]);
				if (r < 0)
					return r;
			}
			run_off = index * bsize;
			run_len = selected ? bsize : 0;
		}
		if (c == EOF)
			break;
		applied += selected;
	}
	if (fsync(dst) < 0)
		return log_error(-errno, "cannot sync %s", argv[8]);
	printf("applied=%" PRIu64 " blocks=%" PRIu64 "\n", applied, index);
	return 0;
}

/*
 * compare A B: print "differ=K" (K 4 KiB blocks differ) and the first few
 * block numbers; exit status 1 if any differ.
 */
static int cmd_compare(int argc, char **argv)
{
	_cleanup_(closep) int fa = -1, fb = -1;
	_cleanup_(freep) void *ba = NULL, *bb = NULL;
	uint64_t differ = 0, bytes;
	struct device a, b;
	int r;

	if (argc != 3)
		return usage_error("usage: compare A B");
	r = device_open(&a, argv[1], O_RDONLY, false);
	if (r < 0)
		return r;
	fa = a.fd;
	r = device_open(&b, argv[2], O_RDONLY, false);
	if (r < 0)
		return r;
	fb = b.fd;
	if (a.blocks != b.blocks)
		return log_error(-EINVAL, "%s and %s differ in size", argv[1], argv[2]);
	ba = io_buffer(IO_SIZE);
	bb = io_buffer(IO_SIZE);
	if (!ba || !bb)
		return log_error(-ENOMEM, "compare");
	bytes = a.blocks * PIT_BLOCK_SIZE;
	for (uint64_t off = 0; off < bytes; off += IO_SIZE) {
		size_t len = bytes - off < IO_SIZE ? (size_t)(bytes - off) : IO_SIZE;

		if ((r = pio_full(false, fa, ba, len, off)) < 0)
			return log_error(r, "cannot read %s", argv[1]);
		if ((r = pio_full(false, fb, bb, len, off)) < 0)
			return log_error(r, "cannot read %s", argv[2]);
		for (size_t k = 0; k < len; k += PIT_BLOCK_SIZE) {
			if (memcmp((char *)ba + k, (char *)bb + k, PIT_BLOCK_SIZE) == 0)
				continue;
			if (differ++ < MAX_REPORTED)
				printf("block %" PRIu64 " differs\n", (off + k) / PIT_BLOCK_SIZE);
		}
	}
	printf("differ=%" PRIu64 "\n", differ);
	return differ ? -EIO : 0;
}

/* ---- main --------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "init", cmd_init },
	{ "run", cmd_run },
	{ "now", cmd_now },
	{ "verify", cmd_verify },
	{ "hash", cmd_hash },
	{ "apply", cmd_apply },
	{ "compare", cmd_compare },
};

static void help(void)
{
	fputs("Usage:\n"
	      "  pit-writer init [--no-direct] DEV...\n"
	      "\twrite every 4 KiB block of the devices with seq 0\n"
	      "  pit-writer run --log FILE [--seconds N] [--threads N] [--max-writes N]\n"
	      "                 [--no-direct] DEV...\n"
	      "\trandom O_DIRECT block writes until N seconds passed (default: until\n"
	      "\tSIGTERM or SIGINT) or max-writes were done; then save the log\n"
	      "  pit-writer now\n"
	      "\tprint CLOCK_MONOTONIC in ns\n"
	      "  pit-writer verify --log FILE --t0 NS --t1 NS [--no-direct] DEV=IMAGE...\n"
	      "\tcheck that the images hold the devices between t0 and t1\n"
	      "  pit-writer hash [--no-direct] DEV...\n"
	      "\tprint a 64-bit hash of each device's content\n"
	      "  pit-writer apply --map FILE --above N --block-size B SRC DST\n"
	      "\tcopy the CBT blocks whose raw map byte is above N from SRC to DST\n"
	      "  pit-writer compare A B\n"
	      "\tprint differ=K, the 4 KiB blocks that differ; exit 1 if K > 0\n"
	      "The DEV lists of init and run, and the DEVs of verify, are in one order.\n"
	      "Exit status: 0, 1 on a failure or a violation, 2 on a usage error.\n",
	      stdout);
}

int main(int argc, char **argv)
{
	int r;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		help();
		return EXIT_SUCCESS;
	}
	if (argc < 2) {
		usage_error("no command given");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		r = commands[i].run(argc - 1, argv + 1);
		if (fflush(stdout) != 0 && r >= 0)
			r = log_error(-errno, "cannot write the output");
		return r == R_USAGE ? EXIT_USAGE : r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	usage_error("unknown command '%s'", argv[1]);
	return EXIT_USAGE;
}
