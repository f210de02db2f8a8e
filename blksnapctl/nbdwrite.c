// SPDX-License-Identifier: GPL-2.0
/*
 * A new qcow2 image written through libnbd and a qemu-nbd that libnbd
 * starts with systemd socket activation: pipelined asynchronous writes,
 * all-zero ranges as NBD_CMD_WRITE_ZEROES, a flush before the caller may
 * name the image anywhere.
 */
#include <inttypes.h>
#include <libnbd.h>
#include <string.h>

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

struct nbd_writer {
	struct nbd_handle *h;
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

static int connect_qemu_nbd(const char *image_path, bool read_only, struct nbd_handle **ret)
{
	_cleanup_(nbd_handle_closep) struct nbd_handle *h = NULL;
	char *argv_rw[] = { "qemu-nbd", "-f", "qcow2", "--", (char *)image_path, NULL };
	char *argv_ro[] = { "qemu-nbd", "--read-only", "-f", "qcow2", "--", (char *)image_path, NULL };

	h = nbd_create();
	if (!h)
		return log_error_errno(nbd_errno(), "libnbd: %s", nbd_get_error());
	if (nbd_connect_systemd_socket_activation(h, read_only ? argv_ro : argv_rw) < 0)
		return log_error_errno(nbd_errno(), "cannot serve %s with qemu-nbd: %s",
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
	for (size_t i = 0; i < NBD_WRITER_BUFFERS; i++) {
		w->bufs[i].data = malloc(NBD_WRITER_BUF_SIZE);
		if (!w->bufs[i].data)
			return -ENOMEM;
	}
	r = qcow2_create(image_path, backing, size);
	if (r < 0)
		goto fail_unlink;
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
	for (size_t i = 0; i < NBD_WRITER_BUFFERS; i++)
		free(w->bufs[i].data);
	free(w);
}

/* One round of waiting for command completions. */
static int writer_poll(struct nbd_writer *w)
{
	if (w->error)
		return writer_error(w);
	if (interrupted)
		return -EINTR;
	if (nbd_poll(w->h, POLL_MS) < 0) {
		int r = nbd_errno();

		if (r == -EINTR && !interrupted)
			return 0;
		return log_error_errno(r, "NBD connection to qemu-nbd failed: %s", nbd_get_error());
	}
	if (w->error)
		return writer_error(w);
	return interrupted ? -EINTR : 0;
}

int nbd_writer_get_buffer(struct nbd_writer *w, struct nbd_wbuf **ret)
{
	for (;;) {
		int r;

		for (size_t i = 0; i < NBD_WRITER_BUFFERS; i++) {
			struct nbd_wbuf *b = &w->bufs[i];

			if (!b->held && b->pending == 0) {
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
};

static int write_done(void *user_data, int *error)
{
	struct write_ctx *c = user_data;

	if (c->b)
		c->b->pending--;
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
	*c = (struct write_ctx){ w, b };
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
	return 0;
}
