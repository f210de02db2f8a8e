/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Writing a new qcow2 image through NBD: qemu-img creates it (a full image,
 * or an overlay of a backing image), libnbd starts qemu-nbd on it with
 * systemd socket activation and pipelines asynchronous writes, at most
 * NBD_WRITER_IN_FLIGHT commands at once, into a pool of buffers.  Also
 * opens an image read-only through qemu-nbd, for verify.
 */
#ifndef BLKSNAPCTL_NBDWRITE_H
#define BLKSNAPCTL_NBDWRITE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct nbd_handle;

#define NBD_WRITER_IN_FLIGHT	16
#define NBD_WRITER_BUFFERS	8
#define NBD_WRITER_BUF_SIZE	(1u << 20)

struct nbd_writer;

struct nbd_wbuf {
	uint8_t *data;		/* NBD_WRITER_BUF_SIZE bytes */
	unsigned pending;	/* writes in flight from it */
	int held;		/* the producer still fills or submits it */
	atomic_int busy;	/* another thread still reads it (set and
				 * cleared by the producer's helpers) */
};

/*
 * Create image_path (qcow2, size bytes; an overlay of backing, a path
 * relative to the image's directory, when not NULL) and connect to a
 * qemu-nbd serving it.  Return: 0 or -errno (said why); on failure nothing
 * is left (no image file, no process).
 */
int nbd_writer_new(const char *image_path, const char *backing, uint64_t size,
		   struct nbd_writer **ret);

/* Kill qemu-nbd if it still runs and free w; the image file stays. */
void nbd_writer_free(struct nbd_writer *w);
static inline void nbd_writer_freep(struct nbd_writer **w)
{
	if (*w)
		nbd_writer_free(*w);
}

/*
 * A file descriptor (an eventfd) whose readability also ends a wait in
 * nbd_writer_get_buffer(): another thread writes it when it clears a
 * buffer's busy flag.  -1: none.
 */
void nbd_writer_set_wake_fd(struct nbd_writer *w, int fd);

/*
 * A free buffer (no writes in flight from it, not busy), waiting for writes to complete if all are in use.
 * Return: 0, -EINTR when interrupted, or the first write error.
 */
int nbd_writer_get_buffer(struct nbd_writer *w, struct nbd_wbuf **ret);
/* The producer is done with b: it is free once its writes complete. */
void nbd_writer_put_buffer(struct nbd_writer *w, struct nbd_wbuf *b);

/* Queue a write of b->data[boff..boff+len) to offset off of the image. */
int nbd_writer_pwrite(struct nbd_writer *w, struct nbd_wbuf *b, size_t boff,
		      size_t len, uint64_t off);
/* Queue NBD_CMD_WRITE_ZEROES of len bytes at off. */
int nbd_writer_zero(struct nbd_writer *w, uint64_t len, uint64_t off);

/*
 * Wait for every write, flush the image, stop qemu-nbd and fsync the
 * image file.  Return: 0 or the first error of any write or the flush.
 */
int nbd_writer_finish(struct nbd_writer *w);

/*
 * Connect to a qemu-nbd serving image_path (any format qemu-img knows, its
 * backing chain included) read-only.  Return: 0 or -errno (said why).
 */
int nbd_image_open_ro(const char *image_path, struct nbd_handle **ret);
void nbd_handle_closep(struct nbd_handle **h);

/* Create a qcow2 image with qemu-img (used by nbd_writer_new). */
int qcow2_create(const char *image_path, const char *backing, uint64_t size);

#endif /* BLKSNAPCTL_NBDWRITE_H */
