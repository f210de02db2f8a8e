// SPDX-License-Identifier: GPL-2.0
/*
 * A new qcow2 image written through libnbd and a qemu-nbd that libnbd
 * starts with systemd socket activation: pipelined asynchronous writes,
 * all-zero ranges as NBD_CMD_WRITE_ZEROES, a flush before the caller may
 * name the image anywhere.
 *
 * The image is new and nobody names it until nbd_writer_finish() returns,
 * so its intermediate states need not survive a crash: qemu-nbd runs with
 * cache=unsafe (the flushes qcow2 orders its metadata with, a dozen
 * fdatasync() per GiB and per incremental, are not sent to the disk; the
 * metadata is still written to the file at each NBD flush), and once
 * qemu-nbd has exited, one fsync() of the whole file makes it durable: the
 * same guarantee, one wait for the disk instead of one per qcow2 flush.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <libnbd.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nbdwrite.h"
#include "util.h"

#define POLL_MS		250
/*
 * Full images: 64 KiB clusters, readable by any qemu.  Overlays: extended L2
 * entries (qemu >= 5.2), so a write of 4 KiB allocates a 2 KiB subcluster
 * instead of copying the rest of a 64 KiB cluster from the backing image:
 * an incremental of scattered blocks stays the size of what changed.
 */
#define QCOW2_FULL_OPTIONS	"cluster_size=65536"
#define QCOW2_OVERLAY_OPTIONS	"cluster_size=65536,extended_l2=on"

/*
 * qemu-nbd allocates a buffer per write request and frees it at the reply;
 * glibc serves requests above its mmap threshold (128 KiB, raised only to
 * the size of the last freed chunk) with mmap() and munmap(), so every MiB
 * written cost 256 page faults and page clears in qemu-nbd (a third of its
 * CPU time).  Above any request we send, and with the heap kept, the
 * buffers are reused.
 */
/*
 * qemu-nbd writes into the page cache (cache=unsafe) and the image is made
 * durable by one fsync() at the end.  Left alone, a full backup's whole
 * image would still be dirty then, and that fsync would write it all while
 * nothing else runs (and hold that much dirty memory until then).  Each
 * time this many bytes were acknowledged, writeback of the image starts
 * (sync_file_range(), no waiting): the disk writes while the copy goes on,
 * and the final fsync() finds little left.
 */
#define WRITEBACK_BYTES		(32u << 20)

#define QEMU_NBD_TUNABLES	"glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=67108864"

struct nbd_writer {
	struct nbd_handle *h;
	char *path;			/* of the image, for messages */
	int wake_fd;			/* also ends a wait in writer_poll, or -1 */
	int sync_fd;			/* the image (read-only): writeback, fsync */
	uint64_t unsynced;		/* bytes written since writeback started */
	int error;			/* first error of any command */
	bool reported;			/* ... and it was logged */
	struct nbd_wbuf bufs[NBD_WRITER_BUFFERS];
};

void nbd_handle_closep(struct nbd_handle **h)
{
	if (*h)
		nbd_close(*h);
}

static int nbd_errno(void)
{
	int e = nbd_get_errno();

	return e > 0 ? -e : -EIO;
}

int qcow2_create(const char *image_path, const char *backing, uint64_t size)
{
	char *argv[16] = { "qemu-img", "create", "-q", "-f", "qcow2", "-o",
			   backing ? QCOW2_OVERLAY_OPTIONS : QCOW2_FULL_OPTIONS };
	size_t n = 7;
	char sz[32];
	int r;

	snprintf(sz, sizeof(sz), "%" PRIu64, size);
	if (backing) {
		argv[n++] = "-b";
		argv[n++] = (char *)backing;	/* relative to the image's directory */
		argv[n++] = "-F";
		argv[n++] = "qcow2";
	}
	argv[n++] = (char *)image_path;
	argv[n++] = sz;
	r = run_program(argv, NULL);
	if (r < 0)
		return r;
	if (r != 0)
		return log_error_errno(-EIO, "qemu-img create %s failed (exit status %d)", image_path, r);
	return 0;
}

/*
 * Put QEMU_NBD_TUNABLES into the environment that libnbd gives qemu-nbd
 * (it copies ours), after any the user set; *ret_old is what to put back.
 */
static int tunables_push(char **ret_old)
{
	const char *old = getenv("GLIBC_TUNABLES");
	_cleanup_(freep) char *saved = NULL, *v = NULL;

	if (old && !(saved = strdup(old)))
		return -ENOMEM;
	if (asprintf(&v, "%s%s%s", QEMU_NBD_TUNABLES, old ? ":" : "", old ? old : "") < 0)
		return -ENOMEM;
	if (setenv("GLIBC_TUNABLES", v, 1) < 0)
		return -errno;
	*ret_old = TAKE_PTR(saved);
	return 0;
}

static void tunables_pop(char *old)
{
	if (old)
		setenv("GLIBC_TUNABLES", old, 1);
	else
		unsetenv("GLIBC_TUNABLES");
	free(old);
}

static int connect_qemu_nbd(const char *image_path, bool read_only, struct nbd_handle **ret)
{
	_cleanup_(nbd_handle_closep) struct nbd_handle *h = NULL;
	char *argv_rw[] = { "qemu-nbd", "--cache=unsafe", "-f", "qcow2", "--", (char *)image_path, NULL };
	char *argv_ro[] = { "qemu-nbd", "--read-only", "-f", "qcow2", "--", (char *)image_path, NULL };
	char *old = NULL;
	int r;

	h = nbd_create();
	if (!h)
		return log_error_errno(nbd_errno(), "libnbd: %s", nbd_get_error());
	if (!read_only) {
		r = tunables_push(&old);
		if (r < 0)
			return log_error_errno(r, "cannot set the environment of qemu-nbd: %m");
	}
	r = nbd_connect_systemd_socket_activation(h, read_only ? argv_ro : argv_rw);
	if (r < 0)
		r = nbd_errno();
	if (!read_only)
		tunables_pop(old);
	if (r < 0)
		return log_error_errno(r, "cannot serve %s with qemu-nbd: %s",
				       image_path, nbd_get_error());
	*ret = TAKE_PTR(h);
	return 0;
}

int nbd_image_open_ro(const char *image_path, struct nbd_handle **ret)
{
	return connect_qemu_nbd(image_path, true, ret);
}

int nbd_writer_new(const char *image_path, const char *backing, uint64_t size,
		   struct nbd_writer **ret)
{
	_cleanup_(nbd_writer_freep) struct nbd_writer *w = NULL;
	int64_t got;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->wake_fd = -1;
	w->sync_fd = -1;
	w->path = strdup(image_path);
	if (!w->path)
		return -ENOMEM;
	for (size_t i = 0; i < NBD_WRITER_BUFFERS; i++) {
		w->bufs[i].data = malloc(NBD_WRITER_BUF_SIZE);
		if (!w->bufs[i].data)
			return -ENOMEM;
	}
	r = qcow2_create(image_path, backing, size);
	if (r < 0)
		goto fail_unlink;
	w->sync_fd = open(image_path, O_RDONLY | O_CLOEXEC);
	if (w->sync_fd < 0) {
		r = log_error_errno(-errno, "cannot open %s: %m", image_path);
		goto fail_unlink;
	}
	r = connect_qemu_nbd(image_path, false, &w->h);
	if (r < 0)
		goto fail_unlink;
	got = nbd_get_size(w->h);
	if (got < 0 || (uint64_t)got != size) {
		r = log_error_errno(-EIO, "qemu-nbd serves %s with %" PRId64 " bytes, not %" PRIu64,
				    image_path, got, size);
		goto fail_unlink;
	}
	if (nbd_is_read_only(w->h) == 1 || nbd_can_flush(w->h) != 1 || nbd_can_zero(w->h) != 1) {
		r = log_error_errno(-EOPNOTSUPP, "qemu-nbd serves %s without writes, flush or write-zeroes",
				    image_path);
		goto fail_unlink;
	}
	*ret = TAKE_PTR(w);
	return 0;

fail_unlink:
	if (w->h) {
		nbd_close(w->h);
		w->h = NULL;
	}
	unlink(image_path);
	return r;
}

/* Log the first command error once; return it. */
static int writer_error(struct nbd_writer *w)
{
	if (w->error && !w->reported) {
		w->reported = true;
		log_error_errno(w->error, "a write to the image failed: %m");
	}
	return w->error;
}

void nbd_writer_free(struct nbd_writer *w)
{
	if (w->h) {
		/* Let the commands in flight finish (for at most 10 s), so that
		 * qemu-nbd sees a clean disconnect, not a half-sent write. */
		uint64_t until = now_usec() + 10 * 1000000;

		while (nbd_aio_in_flight(w->h) > 0 && now_usec() < until)
			if (nbd_poll(w->h, POLL_MS) < 0 && nbd_get_errno() != EINTR)
				break;
		nbd_close(w->h);	/* qemu-nbd exits when its client goes */
	}
	if (w->sync_fd >= 0)
		close(w->sync_fd);
	for (size_t i = 0; i < NBD_WRITER_BUFFERS; i++)
		free(w->bufs[i].data);
	free(w->path);
	free(w);
}

void nbd_writer_set_wake_fd(struct nbd_writer *w, int fd)
{
	w->wake_fd = fd;
}

/*
 * One round of waiting: for the socket to take more of the commands queued
 * (libnbd sends only when called), for replies, or for the wake fd.
 */
static int writer_poll(struct nbd_writer *w)
{
	struct pollfd p[2] = {};
	unsigned dir;
	int n = 1, r;

	if (w->error)
		return writer_error(w);
	if (interrupted)
		return -EINTR;
	p[0].fd = nbd_aio_get_fd(w->h);
	if (p[0].fd < 0)
		return log_error_errno(nbd_errno(), "NBD connection to qemu-nbd failed: %s", nbd_get_error());
	dir = nbd_aio_get_direction(w->h);
	if (dir & LIBNBD_AIO_DIRECTION_READ)
		p[0].events |= POLLIN;
	if (dir & LIBNBD_AIO_DIRECTION_WRITE)
		p[0].events |= POLLOUT;
	if (w->wake_fd >= 0) {
		p[1] = (struct pollfd){ .fd = w->wake_fd, .events = POLLIN };
		n = 2;
	}
	if (poll(p, n, POLL_MS) < 0) {
		if (errno == EINTR)
			return interrupted ? -EINTR : 0;
		return log_error_errno(-errno, "cannot wait for qemu-nbd: %m");
	}
	if (n == 2 && (p[1].revents & POLLIN)) {
		uint64_t v;

		(void)!read(w->wake_fd, &v, sizeof(v));
	}
	r = 0;
	if (p[0].revents & POLLIN)
		r = nbd_aio_notify_read(w->h);
	else if (p[0].revents & POLLOUT)
		r = nbd_aio_notify_write(w->h);
	else if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
		if (!w->error)
			w->error = -EIO;
		return log_error_errno(-EIO, "qemu-nbd closed the NBD connection");
	}
	if (r < 0)
		return log_error_errno(nbd_errno(), "NBD connection to qemu-nbd failed: %s", nbd_get_error());
	if (w->error)
		return writer_error(w);
	if (w->unsynced >= WRITEBACK_BYTES) {
		/* a hint: the final fsync() reports any error of this I/O */
		(void)sync_file_range(w->sync_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		w->unsynced = 0;
	}
	return interrupted ? -EINTR : 0;
}

int nbd_writer_get_buffer(struct nbd_writer *w, struct nbd_wbuf **ret)
{
	for (;;) {
		int r;

		for (size_t i = 0; i < NBD_WRITER_BUFFERS; i++) {
			struct nbd_wbuf *b = &w->bufs[i];

			if (!b->held && b->pending == 0 &&
			    !atomic_load_explicit(&b->busy, memory_order_acquire)) {
				b->held = 1;
				*ret = b;
				return 0;
			}
		}
		r = writer_poll(w);
		if (r < 0)
			return r;
	}
}

void nbd_writer_put_buffer(struct nbd_writer *w _unused_, struct nbd_wbuf *b)
{
	b->held = 0;
}

struct write_ctx {
	struct nbd_writer *w;
	struct nbd_wbuf *b;
	uint64_t len;			/* of a write; 0 for write-zeroes */
};

static int write_done(void *user_data, int *error)
{
	struct write_ctx *c = user_data;

	if (c->b) {
		c->b->pending--;
		c->w->unsynced += c->len;
	}
	if (*error && !c->w->error)
		c->w->error = -*error;
	return 1;	/* retire the command */
}

/* Room for one more command in flight. */
static int writer_slot(struct nbd_writer *w)
{
	while (nbd_aio_in_flight(w->h) >= NBD_WRITER_IN_FLIGHT) {
		int r = writer_poll(w);

		if (r < 0)
			return r;
	}
	return writer_error(w);
}

static int writer_submit(struct nbd_writer *w, struct nbd_wbuf *b, size_t boff,
			 uint64_t len, uint64_t off)
{
	struct write_ctx *c;
	int64_t cookie;
	int r;

	r = writer_slot(w);
	if (r < 0)
		return r;
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct write_ctx){ w, b, b ? len : 0 };
	nbd_completion_callback cb = { .callback = write_done, .user_data = c, .free = free };
	if (b)
		cookie = nbd_aio_pwrite(w->h, b->data + boff, len, off, cb, 0);
	else
		cookie = nbd_aio_zero(w->h, len, off, cb, 0);
	if (cookie < 0)
		return log_error_errno(nbd_errno(), "NBD %s of %" PRIu64 "+%" PRIu64 " refused: %s",
				       b ? "write" : "write-zeroes", off, len, nbd_get_error());
	if (b)
		b->pending++;
	return 0;
}

int nbd_writer_pwrite(struct nbd_writer *w, struct nbd_wbuf *b, size_t boff,
		      size_t len, uint64_t off)
{
	return writer_submit(w, b, boff, len, off);
}

int nbd_writer_zero(struct nbd_writer *w, uint64_t len, uint64_t off)
{
	/* qemu-nbd takes requests of up to 32 MiB... of payload; zeroes have
	 * none, but keep each one within a sane bound anyway. */
	while (len) {
		uint64_t n = MIN(len, (uint64_t)1 << 30);
		int r = writer_submit(w, NULL, 0, n, off);

		if (r < 0)
			return r;
		len -= n;
		off += n;
	}
	return 0;
}

int nbd_writer_finish(struct nbd_writer *w)
{
	int r;

	while (nbd_aio_in_flight(w->h) > 0) {
		r = writer_poll(w);
		if (r < 0)
			return r;
	}
	if (w->error)
		return writer_error(w);
	if (nbd_flush(w->h, 0) < 0)
		return log_error_errno(nbd_errno(), "NBD flush of the image failed: %s", nbd_get_error());
	if (nbd_shutdown(w->h, 0) < 0)
		return log_error_errno(nbd_errno(), "NBD disconnect failed: %s", nbd_get_error());
	nbd_close(w->h);	/* waits for qemu-nbd to exit */
	w->h = NULL;

	/* qemu-nbd ran with cache=unsafe: make the whole file durable now. */
	if (fsync(w->sync_fd) < 0)
		return log_error_errno(-errno, "cannot sync %s: %m", w->path);
	return 0;
}
