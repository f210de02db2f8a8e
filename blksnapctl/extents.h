/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A list of byte extents of a device: the changed extents an incremental
 * backup copies, as GetChangedExtents hands them over (an fd of sorted,
 * merged little-endian (u64 offset, u64 length) pairs).
 */
#ifndef BLKSNAPCTL_EXTENTS_H
#define BLKSNAPCTL_EXTENTS_H

#include <stddef.h>
#include <stdint.h>

struct extent {
	uint64_t offset;
	uint64_t length;
};

struct extent_list {
	struct extent *v;
	size_t n;
};

void extent_list_done(struct extent_list *l);

/*
 * Read the pairs from fd (from its current position to its end) and check
 * them: lengths > 0, sorted, not overlapping, inside device_size.  Adjacent
 * extents are merged.  Return: 0, or -EINVAL (said why) / -errno of the read;
 * *ret untouched on failure.
 */
int extent_list_read_fd(int fd, const char *what, uint64_t device_size,
			struct extent_list *ret);

/* The whole device as one extent (a full backup). */
int extent_list_whole(uint64_t device_size, struct extent_list *ret);

uint64_t extent_list_bytes(const struct extent_list *l);

#endif /* BLKSNAPCTL_EXTENTS_H */
