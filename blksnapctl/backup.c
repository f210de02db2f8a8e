// SPDX-License-Identifier: GPL-2.0
/*
 * The backup engine: plan (full or incremental), copy through NBD into a
 * partial image, flush, rename, then append the manifest.
 */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "backup.h"
#include "nbdwrite.h"
#include "progress.h"
#include "util.h"

#define LOCK_FILE	".lock"
#define PARTIAL_SUFFIX	".partial"
/* All-zero detection granularity: the qcow2 cluster size we create. */
#define ZERO_GRAIN	(64u * 1024)
/* The longest extent the manifest checksums as one (verify names extents
 * of at most this size). */
#define RECORD_MAX	(4u << 20)
/* Buffers with at most this much data are hashed by the copy loop itself
 * when the hasher is idle: handing 4 KiB over costs more than hashing it. */
#define HASH_INLINE_MAX	(128u * 1024)
/* Runs of one kind (data or zero) in a buffer.  A piece of an extent of n
 * bytes makes at most n / ZERO_GRAIN + 2 of them; a buffer holds pieces of
 * several small extents until it is full or its runs are: enough for 64
 * scattered 4 KiB extents (a buffer each would leave a handful of writes in
 * flight), and always for one whole buffer. */
#define RUNS_MAX	96
#define PIECE_RUNS(n)	((n) / ZERO_GRAIN + 2)
/* Scattered reads of the source are announced this far ahead (bytes of
 * extents of less than a buffer), so that the device has many in flight
 * instead of one synchronous read at a time. */
#define READAHEAD_BYTES	(8u << 20)

static bool device_name_ok(const char *s)
{
	return s[0] && strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/') && strlen(s) < 128;
}

void backup_target_done(struct backup_target *t)
{
	if (t->chain)
		chain_free(t->chain);
	if (t->dirfd >= 0)
		close(t->dirfd);
	if (t->lockfd >= 0)
		close(t->lockfd);	/* drops the lock */
	free(t->path);
	free(t->device);
	*t = (struct backup_target){ .dirfd = -1, .lockfd = -1 };
}

/* Remove what a crashed run left: temp files and partial images. */
static void remove_leftovers(int dirfd, const char *path)
{
	_cleanup_(closep) int fd = dup(dirfd);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d)
		return;
	fd = -1;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name), sl = strlen(PARTIAL_SUFFIX);

		if ((len > sl && strcmp(de->d_name + len - sl, PARTIAL_SUFFIX) == 0) ||
		    strcmp(de->d_name, "chain.json.tmp") == 0) {
			if (unlinkat(dirfd, de->d_name, 0) == 0)
				log_info("removed %s/%s, left by an interrupted run", path, de->d_name);
		}
	}
	closedir(d);
}

int backup_target_open(const char *dir, const char *device, struct backup_target *ret)
{
	_cleanup_(backup_target_done) struct backup_target t = { .dirfd = -1, .lockfd = -1 };
	int r;

	if (!device_name_ok(device))
		return log_error_errno(-EINVAL, "'%s' cannot name a directory of backups", device);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "cannot create %s: %m", dir);
	t.device = strdup(device);
	if (!t.device || asprintf(&t.path, "%s/%s", dir, device) < 0)
		return -ENOMEM;
	if (mkdir(t.path, 0700) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "cannot create %s: %m", t.path);
	t.dirfd = open(t.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t.dirfd < 0)
		return log_error_errno(-errno, "cannot open %s: %m", t.path);
	t.lockfd = openat(t.dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (t.lockfd < 0)
		return log_error_errno(-errno, "cannot create %s/%s: %m", t.path, LOCK_FILE);
	if (flock(t.lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return log_error_errno(-EBUSY, "%s: another blksnapctl is writing this chain", t.path);
		return log_error_errno(-errno, "cannot lock %s: %m", t.path);
	}
	r = chain_load(t.dirfd, t.path, device, &t.chain);
	if (r < 0)
		return r;
	remove_leftovers(t.dirfd, t.path);
	*ret = t;
	t = (struct backup_target){ .dirfd = -1, .lockfd = -1 };
	return 0;
}

int backup_plan(const struct backup_target *t, const struct backup_source *src,
		bool force_full, struct backup_plan *ret)
{
	const struct chain_backup *last = chain_last(t->chain);
	struct backup_plan p = {};

	if (!last) {
		p.full = true;
		snprintf(p.reason, sizeof(p.reason), "the first backup of %s", t->device);
	} else if (force_full) {
		p.full = true;
		snprintf(p.reason, sizeof(p.reason), "a full backup was asked for");
	} else if (strcmp(last->generation_id, src->generation_id) != 0) {
		p.full = true;
		snprintf(p.reason, sizeof(p.reason),
			 "the change tracking generation is %s, not the last backup's %s: its history was reset, so what changed since is unknown",
			 src->generation_id, last->generation_id);
	} else if (last->device_size != src->size) {
		p.full = true;
		snprintf(p.reason, sizeof(p.reason),
			 "the device has %" PRIu64 " bytes, the last backup %" PRIu64,
			 src->size, last->device_size);
	} else if (src->snap_number <= last->snap_number) {
		return log_error_errno(-EINVAL,
			"snap number %" PRIu32 " of generation %s is not after the last backup's %" PRIu32 ": this data is not newer than %s/%s",
			src->snap_number, src->generation_id, last->snap_number, t->path, last->image);
	} else {
		memcpy(p.since_generation_id, last->generation_id, sizeof(p.since_generation_id));
		p.since_snap_number = last->snap_number;
	}
	*ret = p;
	return 0;
}

/* ---- the copy ------------------------------------------------------------- */

struct recorder {
	struct chain_extent *v;
	size_t n, cap;
	bool open;			/* v[n - 1] may still grow */
	struct sha256_ctx sha;
};

static bool all_zero(const uint8_t *p, size_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

static void recorder_close(struct recorder *rec)
{
	if (rec->open && !rec->v[rec->n - 1].zero)
		sha256_digest(&rec->sha, SHA256_DIGEST_SIZE, rec->v[rec->n - 1].sha256);
	rec->open = false;
}

/* Account len bytes at off (data at p, or zeroes) to the manifest's extents. */
static int recorder_add(struct recorder *rec, uint64_t off, const uint8_t *p, size_t len, bool zero)
{
	struct chain_extent *x = rec->open ? &rec->v[rec->n - 1] : NULL;

	if (x && x->zero == zero && x->offset + x->length == off && x->length + len <= RECORD_MAX) {
		x->length += len;
		if (!zero)
			sha256_update(&rec->sha, len, p);
		return 0;
	}
	recorder_close(rec);
	if (rec->n == rec->cap) {
		size_t cap = rec->cap ? rec->cap * 2 : 256;
		struct chain_extent *v = reallocarray(rec->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		rec->v = v;
		rec->cap = cap;
	}
	rec->v[rec->n++] = (struct chain_extent){ .offset = off, .length = len, .zero = zero };
	rec->open = true;
	if (!zero) {
		sha256_init(&rec->sha);
		sha256_update(&rec->sha, len, p);
	}
	return 0;
}

/*
 * The hasher: a thread that checksums buffers for the manifest while the
 * copy loop reads the next ones and keeps qemu-nbd fed, so that SHA-256 (the
 * largest CPU cost of a full backup) runs beside the copy, not between its
 * steps.  Jobs are taken in order (an extent's checksum runs across
 * buffers); a buffer stays busy until it is hashed.
 */
struct hash_run {
	uint64_t off;
	uint32_t boff, len;
	bool zero;
	bool close_before;		/* starts an extent of the list */
};

struct hash_job {
	struct nbd_wbuf *b;
	unsigned n;
	struct hash_run runs[RUNS_MAX];
};

struct hasher {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock: */
	struct hash_job q[NBD_WRITER_BUFFERS];	/* one per busy buffer at most */
	unsigned head, count;
	bool working;			/* the thread hashes a job it took */
	bool done;			/* no more jobs will come */
	int error;
	/* the thread's alone while it runs, the caller's once it ended or
	 * while it is idle (count == 0 && !working): */
	struct recorder rec;
	int wake_fd;			/* eventfd: a buffer is no longer busy */
	pthread_t thread;
	bool started;
};

static int hash_job_run(struct recorder *rec, const struct hash_job *j)
{
	for (unsigned i = 0; i < j->n; i++) {
		const struct hash_run *x = &j->runs[i];
		int r;

		if (x->close_before)
			recorder_close(rec);
		r = recorder_add(rec, x->off, j->b->data + x->boff, x->len, x->zero);
		if (r < 0)
			return r;
	}
	return 0;
}

static void *hasher_main(void *arg)
{
	struct hasher *h = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		struct hash_job *j;
		struct nbd_wbuf *b;
		int r = 0;

		while (h->count == 0 && !h->done)
			pthread_cond_wait(&h->cond, &h->lock);
		if (h->count == 0)
			break;
		j = &h->q[h->head];
		h->working = true;
		pthread_mutex_unlock(&h->lock);

		/* the slot stays ours until count drops: no copy needed */
		b = j->b;
		if (!h->error)
			r = hash_job_run(&h->rec, j);

		pthread_mutex_lock(&h->lock);
		if (r < 0 && !h->error)
			h->error = r;
		h->head = (h->head + 1) % NBD_WRITER_BUFFERS;
		h->count--;
		h->working = false;
		/* only now may the buffer come back in a new job */
		atomic_store_explicit(&b->busy, 0, memory_order_release);
		(void)!write(h->wake_fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static int hasher_start(struct hasher *h)
{
	sigset_t all, old;
	int r;

	*h = (struct hasher){ .wake_fd = -1 };
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->wake_fd < 0)
		return log_error_errno(-errno, "cannot create an eventfd: %m");
	/* SIGINT and SIGTERM go to the copy loop, which stops on them. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&h->thread, NULL, hasher_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return log_error_errno(r, "cannot start the hashing thread: %m");
	h->started = true;
	return 0;
}

/* Let the thread finish the jobs queued, and end it.  Return: its error. */
static int hasher_stop(struct hasher *h)
{
	if (h->started) {
		pthread_mutex_lock(&h->lock);
		h->done = true;
		pthread_cond_signal(&h->cond);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
		h->started = false;
	}
	return h->error;
}

static void hasher_done(struct hasher *h)
{
	hasher_stop(h);
	if (h->wake_fd >= 0)
		close(h->wake_fd);
	h->wake_fd = -1;
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h->rec.v);
	h->rec.v = NULL;
}

/* Hash j (its buffer busy until then): by the thread, or here when the
 * thread is idle and j small. */
static int hasher_submit(struct hasher *h, const struct hash_job *j)
{
	uint64_t bytes = 0;
	bool idle;

	for (unsigned i = 0; i < j->n; i++)
		bytes += j->runs[i].len;
	pthread_mutex_lock(&h->lock);
	if (h->error) {
		int r = h->error;

		pthread_mutex_unlock(&h->lock);
		return r;
	}
	idle = h->count == 0 && !h->working;
	if (!(idle && bytes <= HASH_INLINE_MAX)) {
		assert(h->count < NBD_WRITER_BUFFERS);
		atomic_store_explicit(&j->b->busy, 1, memory_order_relaxed);
		h->q[(h->head + h->count) % NBD_WRITER_BUFFERS] = *j;
		h->count++;
		pthread_cond_signal(&h->cond);
		pthread_mutex_unlock(&h->lock);
		return 0;
	}
	pthread_mutex_unlock(&h->lock);
	/* idle, and only this thread queues: the recorder is ours */
	return hash_job_run(&h->rec, j);
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, off + done);

		if (n < 0 && errno == EINTR && !interrupted)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		done += n;
	}
	return 0;
}

/*
 * Copy one piece: [off, off+len) of the source, already in b at boff; its
 * runs are added to job (for b).  Ranges of ZERO_GRAIN (aligned to the
 * device) that are all zero are not sent as data: an incremental sends
 * them as write-zeroes (they must hide the backing image), a full backup
 * leaves them unallocated.
 */
static int copy_piece(struct nbd_writer *w, struct hash_job *job, size_t boff, uint64_t off,
		      size_t len, bool full, bool extent_start)
{
	const uint8_t *data = job->b->data + boff;
	size_t i = 0;

	while (i < len) {
		bool zero = false;	/* set by the first granule */
		size_t j = i;

		/* one run of granules of the same kind */
		do {
			size_t g = MIN(len - j, ZERO_GRAIN - (off + j) % ZERO_GRAIN);
			bool z = all_zero(data + j, g);

			if (j == i)
				zero = z;
			else if (z != zero)
				break;
			j += g;
		} while (j < len);

		int r;
		if (!zero)
			r = nbd_writer_pwrite(w, job->b, boff + i, j - i, off + i);
		else if (!full)
			r = nbd_writer_zero(w, j - i, off + i);
		else
			r = 0;
		if (r < 0)
			return r;
		assert(job->n < RUNS_MAX);
		job->runs[job->n++] = (struct hash_run){
			off + i, boff + i, j - i, zero, extent_start && i == 0 };
		i = j;
	}
	return 0;
}

/* Announce the small extents ahead of the copy to the source's device. */
static void read_ahead(const struct backup_source *src, const struct extent_list *list,
		       size_t e, size_t *ahead, uint64_t *ahead_end, uint64_t done)
{
	if (*ahead < e + 1)
		*ahead = e + 1;
	for (; *ahead < list->n && *ahead_end < done + READAHEAD_BYTES; (*ahead)++) {
		const struct extent *x = &list->v[*ahead];

		if (x->length >= NBD_WRITER_BUF_SIZE)
			break;	/* big: the kernel's own readahead takes it */
		(void)posix_fadvise(src->fd, x->offset, x->length, POSIX_FADV_WILLNEED);
		*ahead_end += x->length;
	}
}

/* Hand the buffer being filled to the hasher and give it back. */
static int close_buffer(struct nbd_writer *w, struct hasher *hs, struct hash_job *job)
{
	int r = 0;

	if (!job->b)
		return 0;
	if (job->n)
		r = hasher_submit(hs, job);
	nbd_writer_put_buffer(w, job->b);
	*job = (struct hash_job){};
	return r;
}

static int copy_extents(struct nbd_writer *w, const struct backup_source *src,
			const struct extent_list *list, bool full, struct hasher *hs,
			struct progress *prog)
{
	struct hash_job job = {};
	uint64_t done = 0, ahead_end = 0;
	size_t boff = 0, ahead = 0;
	int r = 0;

	for (size_t e = 0; e < list->n && r >= 0; e++) {
		uint64_t pos = list->v[e].offset, end = pos + list->v[e].length;
		/* an extent never merges with the one before */
		bool extent_start = true;

		if (list->v[e].length < NBD_WRITER_BUF_SIZE) {
			if (ahead_end < done + READAHEAD_BYTES / 2)
				read_ahead(src, list, e, &ahead, &ahead_end, done);
		}
		while (pos < end) {
			size_t n = MIN(end - pos, (uint64_t)NBD_WRITER_BUF_SIZE);

			/* several small extents share a buffer; a big one starts its own */
			if (job.b && (boff + n > NBD_WRITER_BUF_SIZE ||
				      job.n + PIECE_RUNS(n) > RUNS_MAX)) {
				r = close_buffer(w, hs, &job);
				if (r < 0)
					break;
			}
			if (!job.b) {
				r = nbd_writer_get_buffer(w, &job.b);
				if (r < 0)
					break;
				boff = 0;
			}
			r = pread_full(src->fd, job.b->data + boff, n, pos);
			if (r == -ENODATA)
				r = log_error_errno(-EIO, "%s ends before offset %" PRIu64 ", inside its size of %" PRIu64 " bytes",
						    src->what, pos + n, src->size);
			else if (r < 0 && !interrupted)
				r = log_error_errno(r, "cannot read %s at offset %" PRIu64 ": %m", src->what, pos);
			if (r >= 0)
				r = copy_piece(w, &job, boff, pos, n, full, extent_start);
			if (r < 0)
				break;
			extent_start = false;
			boff += n;
			pos += n;
			done += n;
			progress_update(prog, done);
		}
	}
	/* what was read is hashed even after a failure: the buffer goes back */
	int rc = close_buffer(w, hs, &job);
	if (r >= 0)
		r = rc;
	if (r < 0)
		return interrupted ? -EINTR : r;
	return interrupted ? -EINTR : 0;
}

static const char *signal_name(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

void backup_image_discard(struct backup_target *t, struct backup_image *img)
{
	if (img->w)
		nbd_writer_free(img->w);	/* qemu-nbd lets go of the file */
	if (img->partial)
		unlinkat(t->dirfd, img->partial, 0);
	if (img->extents_partial)
		unlinkat(t->dirfd, img->extents_partial, 0);
	free(img->extents);
	free(img->extents_partial);
	free(img->image);
	free(img->partial);
	free(img->image_path);
	free(img->partial_path);
	*img = (struct backup_image){};
}

int backup_image_start(struct backup_target *t, uint64_t size, bool full, struct backup_image *ret)
{
	const struct chain_backup *last = chain_last(t->chain);
	struct backup_image img = { .full = full || !last, .size = size,
				    .number = last ? last->number + 1 : 0 };
	int r;

	if (chain_image_name(img.number, &img.image) < 0 ||
	    asprintf(&img.partial, "%s%s", img.image, PARTIAL_SUFFIX) < 0 ||
	    asprintf(&img.partial_path, "%s/%s", t->path, img.partial) < 0 ||
	    asprintf(&img.image_path, "%s/%s", t->path, img.image) < 0 ||
	    chain_extents_name(img.number, &img.extents) < 0 ||
	    asprintf(&img.extents_partial, "%s%s", img.extents, PARTIAL_SUFFIX) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	/* Files of this number that the manifest does not name are what a run
	 * that crashed between the renames and the manifest left. */
	if (unlinkat(t->dirfd, img.image, 0) == 0)
		log_info("removed %s, which the manifest does not name", img.image_path);
	if (unlinkat(t->dirfd, img.extents, 0) == 0)
		log_info("removed %s/%s, which the manifest does not name", t->path, img.extents);
	r = nbd_writer_new(img.partial_path, img.full ? NULL : last->image, size, &img.w);
	if (r < 0)
		goto fail;	/* said why, and left no file */
	*ret = img;
	return 0;

fail:
	free(TAKE_PTR(img.partial));	/* not created */
	free(TAKE_PTR(img.extents_partial));
	backup_image_discard(t, &img);
	return r;
}

int backup_run(struct backup_target *t, const struct backup_source *src,
	       const struct backup_plan *plan, const struct extent_list *changed,
	       struct backup_image *img)
{
	_cleanup_(extent_list_done) struct extent_list whole = {};
	const struct chain_backup *last = chain_last(t->chain);
	const struct extent_list *list = changed;
	struct backup_image own = {};
	struct chain_backup b = {};
	uint8_t extents_sha256[SHA256_LEN];
	struct hasher hs = { .wake_fd = -1 };
	struct progress prog;
	char s1[16], s2[16];
	uint64_t started;
	time_t when = time(NULL);	/* the point in time: the data was frozen before */
	int r;

	if (!img)
		img = &own;
	if (!plan->full && !changed)
		r = log_error_errno(-EINVAL, "an incremental backup needs the changed extents");
	else if (plan->full)
		r = extent_list_whole(src->size, &whole);
	else
		r = 0;
	if (r < 0) {
		backup_image_discard(t, img);
		return r;
	}
	if (plan->full)
		list = &whole;

	interrupt_install();
	started = now_usec();
	/* One started ahead for another plan (the device changed meanwhile) goes. */
	if (img->w && (img->full != plan->full || img->size != src->size))
		backup_image_discard(t, img);
	if (!img->w) {
		r = backup_image_start(t, src->size, plan->full, img);
		if (r < 0)
			goto out;
	}
	if (plan->full)
		log_info("%s: full backup into %s: %s", src->what, img->image_path, plan->reason);
	else
		log_info("%s: incremental backup into %s: %s changed since %s",
			 src->what, img->image_path, format_bytes(extent_list_bytes(list), s1, sizeof(s1)),
			 last->image);

	r = hasher_start(&hs);
	if (r < 0)
		goto fail_partial;
	nbd_writer_set_wake_fd(img->w, hs.wake_fd);
	progress_begin(&prog, t->device, extent_list_bytes(list));
	r = copy_extents(img->w, src, list, plan->full, &hs, &prog);
	/* every buffer hashed before the writer (and its buffers) may go */
	int rh = hasher_stop(&hs);
	if (r >= 0 && rh < 0)
		r = log_error_errno(rh, "cannot checksum the extents: %m");
	recorder_close(&hs.rec);
	if (r >= 0)
		r = nbd_writer_finish(img->w);
	progress_end(&prog);
	if (r >= 0 && interrupted)
		r = -EINTR;
	if (r < 0)
		goto fail_partial;	/* said why */
	nbd_writer_free(TAKE_PTR(img->w));

	/* Its extents and their checksums beside it: the manifest names them. */
	r = chain_extents_write(t->dirfd, t->path, img->extents_partial, img->image,
				hs.rec.v, hs.rec.n, extents_sha256);
	if (r < 0)
		goto fail_partial;
	if (renameat(t->dirfd, img->partial, t->dirfd, img->image) < 0) {
		r = log_error_errno(-errno, "cannot rename %s: %m", img->partial_path);
		goto fail_partial;
	}
	free(TAKE_PTR(img->partial));	/* renamed */
	if (renameat(t->dirfd, img->extents_partial, t->dirfd, img->extents) < 0) {
		r = log_error_errno(-errno, "cannot rename %s/%s: %m", t->path, img->extents_partial);
		unlinkat(t->dirfd, img->image, 0);
		goto out;
	}
	free(TAKE_PTR(img->extents_partial));	/* renamed */
	/* Their names are on disk before a manifest names them. */
	if (fsync(t->dirfd) < 0) {
		r = log_error_errno(-errno, "cannot sync %s: %m", t->path);
		unlinkat(t->dirfd, img->image, 0);
		unlinkat(t->dirfd, img->extents, 0);
		goto out;
	}
	b = (struct chain_backup){
		.number = img->number,
		.image = TAKE_PTR(img->image),
		.extents_file = TAKE_PTR(img->extents),
		.backing = plan->full ? NULL : strdup(last->image),
		.full = plan->full,
		.reason = strdup(plan->full ? plan->reason : ""),
		.time = when,
		.device_size = src->size,
		.snap_number = src->snap_number,
		.changed_bytes = extent_list_bytes(list),
		.extents = TAKE_PTR(hs.rec.v),
		.n_extents = hs.rec.n,
	};
	snprintf(b.generation_id, sizeof(b.generation_id), "%s", src->generation_id);
	memcpy(b.extents_sha256, extents_sha256, SHA256_LEN);
	if (!b.reason || (!plan->full && !b.backing)) {
		r = -ENOMEM;
		goto fail_image;
	}
	r = chain_append_save(t->chain, t->dirfd, t->path, &b);
	if (r < 0)
		goto fail_image;
	hasher_done(&hs);
	backup_image_discard(t, img);	/* its names */
	interrupt_restore();

	double secs = (now_usec() - started) / 1e6;
	const struct chain_backup *done = chain_last(t->chain);

	log_info("%s: backup %u done: %s written in %.1f s (%s/s)", t->device, done->number,
		 format_bytes(done->changed_bytes, s1, sizeof(s1)),
		 secs, format_bytes(secs > 0 ? (uint64_t)(extent_list_bytes(list) / secs) : 0, s2, sizeof(s2)));
	return 0;

fail_image:
	unlinkat(t->dirfd, b.image ? b.image : img->image, 0);
	unlinkat(t->dirfd, b.extents_file ? b.extents_file : img->extents, 0);
	chain_backup_done(&b);
	goto out;
fail_partial:
	hasher_stop(&hs);	/* it reads the writer's buffers */
out:
	backup_image_discard(t, img);	/* stops qemu-nbd, removes the partial image */
	hasher_done(&hs);
	if (r == -EINTR || interrupted) {
		log_error("%s: interrupted by %s: the partial image was removed, the chain in %s is as it was",
			  t->device, signal_name(interrupted), t->path);
		r = -EINTR;
	} else {
		log_error("%s: the backup failed: the partial image was removed, the chain in %s is as it was",
			  t->device, t->path);
	}
	interrupt_restore();
	return r;
}
