/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BLKSNAP_BUF_CACHE_H
#define __BLKSNAP_BUF_CACHE_H

#include <linux/gfp.h>
#include <linux/spinlock.h>
#include "stats.h"

/**
 * struct buf_cache - free buffers of one size, kept for the next user
 * @lock: protects @free and @nr_free
 * @free: the free buffers, each holding the address of the next one in
 *	its first bytes; under @lock
 * @nr_free: how many are in @free; under @lock
 * @keep: how many free buffers are kept at most; immutable
 * @size: bytes per buffer; immutable
 * @stat: the object count of the buffers allocated (free or in use)
 *
 * A copy needs a buffer for the time of its I/O only.  Allocating it
 * every time costs more than the I/O on a kernel that zeroes the pages it
 * allocates (init_on_alloc, Debian's default): a buffer given back is
 * kept for the next copy instead, up to @keep of them, until the cache is
 * destroyed.
 */
struct buf_cache {
	spinlock_t lock;	/* protects @free and @nr_free */
	void *free;
	unsigned int nr_free;
	unsigned int keep;
	size_t size;
	enum blksnap_stat stat;
};

void buf_cache_init(struct buf_cache *bc, size_t size, size_t keep_bytes,
		    enum blksnap_stat stat);
void *buf_cache_get(struct buf_cache *bc, gfp_t gfp);
void buf_cache_put(struct buf_cache *bc, void *buf);
void buf_cache_destroy(struct buf_cache *bc);

#endif /* __BLKSNAP_BUF_CACHE_H */
