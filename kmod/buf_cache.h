/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BLKSNAP_BUF_CACHE_H
#define __BLKSNAP_BUF_CACHE_H

#include <linux/gfp.h>
#include <linux/spinlock.h>
#include "stats.h"

/**
 * struct buf_cache - free buffers of one size, kept for the next user
 * @lock: protects @free, @nr_free and @in_use
 * @free: the free buffers, each holding the address of the next one in
 *	its first bytes; under @lock
 * @nr_free: how many are in @free; under @lock
 * @in_use: buffers given out and not given back; under @lock
 * @keep: how many free buffers are kept at most; immutable
 * @floor: when no more than this many are in use (a mempool's reserve
 *	over the cache holds that many), the free ones are freed; immutable
 * @size: bytes per buffer; immutable
 * @stat: the object count of the buffers allocated (free or in use)
 *
 * A copy needs a buffer for the time of its I/O only.  Allocating it
 * every time costs more than the I/O on a kernel that zeroes the pages it
 * allocates (init_on_alloc, Debian's default): a buffer given back is
 * kept for the next copy instead, up to @keep of them, while copies are
 * in flight; when they pause (@floor or fewer in use), the kept buffers
 * are freed, so that an idle snapshot holds no more than its reserve.
 */
struct buf_cache {
	spinlock_t lock;	/* protects @free and @nr_free */
	void *free;
	unsigned int nr_free;
	unsigned int in_use;
	unsigned int keep;
	unsigned int floor;
	size_t size;
	enum blksnap_stat stat;
};

void buf_cache_init(struct buf_cache *bc, size_t size, size_t keep_bytes,
		    unsigned int floor, enum blksnap_stat stat);
void *buf_cache_get(struct buf_cache *bc, gfp_t gfp);
void buf_cache_put(struct buf_cache *bc, void *buf);
void buf_cache_destroy(struct buf_cache *bc);

#endif /* __BLKSNAP_BUF_CACHE_H */
