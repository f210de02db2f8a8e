// SPDX-License-Identifier: GPL-2.0-only
/*
 * GetChangedExtents: the frozen CBT map of a snapshot's device, read with
 * cbt-map-read and snapshot-id, turned into sorted, merged little-endian
 * (u64 offset, u64 length) byte pairs in a sealed memfd.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include "blksnapd.h"

typedef struct ExtentScan {
	uint8_t generation[ID_LEN];
	bool generation_changed;
	uint8_t snap_number;		/* blocks above it changed */
	uint64_t block_size;
	uint64_t capacity;		/* bytes */
	uint64_t next_block;		/* expected offset of the next slice */
	bool gap;
	uint64_t run_start, run_len;	/* current run, in blocks */
	uint64_t *pairs;		/* little-endian */
	size_t n, alloc;
} ExtentScan;

static int scan_flush(ExtentScan *x)
{
	uint64_t off, len;

	if (!x->run_len)
		return 0;
	off = x->run_start * x->block_size;
	len = x->run_len * x->block_size;
	if (off + len > x->capacity)
		len = x->capacity - off;
	x->run_len = 0;
	if (x->n + 2 > x->alloc) {
		size_t alloc = x->alloc ? 2 * x->alloc : 512;
		uint64_t *v = realloc(x->pairs, alloc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		x->pairs = v;
		x->alloc = alloc;
	}
	x->pairs[x->n++] = htole64(off);
	x->pairs[x->n++] = htole64(len);
	return 0;
}

static int scan_slice(struct nlmsghdr *h _unused_, struct nlattr **tb, void *userdata)
{
	ExtentScan *x = userdata;
	uint8_t gen[ID_LEN];
	uint64_t offset;
	const uint8_t *data;
	int len, r;

	if (nl_get_id(tb[BLKSNAP_A_GENERATION_ID], gen) < 0 ||
	    nl_get_u64(tb[BLKSNAP_A_MAP_OFFSET], &offset) < 0 || !tb[BLKSNAP_A_MAP_DATA])
		return -EPROTO;
	if (memcmp(gen, x->generation, ID_LEN) != 0)
		x->generation_changed = true;
	if (offset != x->next_block)
		x->gap = true;
	data = nla_data(tb[BLKSNAP_A_MAP_DATA]);
	len = nla_len(tb[BLKSNAP_A_MAP_DATA]);
	for (int i = 0; i < len; i++) {
		uint64_t block = offset + (uint64_t)i;

		if (data[i] > x->snap_number) {
			if (x->run_len && x->run_start + x->run_len == block) {
				x->run_len++;
				continue;
			}
			r = scan_flush(x);
			if (r < 0)
				return r;
			x->run_start = block;
			x->run_len = 1;
		}
	}
	x->next_block = offset + (uint64_t)len;
	return 0;
}

int extents_memfd(Context *c, Snapshot *s, Device *d, uint8_t snap_number, int *ret_fd,
		  sd_bus_error *error)
{
	SnapshotDevice *sd = snapshot_device(s, d->major, d->minor);
	ExtentScan x = { .snap_number = snap_number, .block_size = d->block_size,
			 .capacity = d->capacity << SECTOR_SHIFT };
	_cleanup_(freep) char *extack = NULL;
	_cleanup_(closep) int fd = -1;
	struct nl_msg *req;
	size_t size;
	int r;

	memcpy(x.generation, sd->generation, ID_LEN);
	req = nl_request_new(c, BLKSNAP_CMD_CBT_MAP_READ, true);
	if (!req)
		return -ENOMEM;
	nla_put_u32(req, BLKSNAP_A_DEV_MAJOR, d->major);
	nla_put_u32(req, BLKSNAP_A_DEV_MINOR, d->minor);
	nla_put(req, BLKSNAP_A_SNAPSHOT_ID, ID_LEN, s->id);
	r = nl_transact(c->nl, req, scan_slice, &x, &extack);
	if (r >= 0)
		r = scan_flush(&x);
	if (r < 0) {
		free(x.pairs);
		return bus_error_nl(error, ERR_SNAPSHOT, r, extack,
				    "Cannot read the change map of %s frozen by snapshot %s",
				    d->path, s->object_path);
	}
	if (x.generation_changed) {
		free(x.pairs);
		return sd_bus_error_setf(error, ERROR_PREFIX "GenerationChanged",
					 "The change map of %s changed generation while it was read: a full backup is needed.",
					 d->path);
	}
	if (x.gap || x.next_block != d->block_count) {
		free(x.pairs);
		return sd_bus_error_setf(error, ERROR_PREFIX "Failed",
					 "The change map of %s came back incomplete (%" PRIu64 " of %" PRIu64 " blocks).",
					 d->path, x.next_block, d->block_count);
	}
	size = x.n * sizeof(uint64_t);
	fd = memfd_create("blksnap-extents", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		free(x.pairs);
		return -errno;
	}
	for (size_t done = 0; done < size;) {
		ssize_t n = write(fd, (uint8_t *)x.pairs + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(x.pairs);
			return n < 0 ? -errno : -EIO;
		}
		done += (size_t)n;
	}
	free(x.pairs);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0 ||
	    lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}
