// SPDX-License-Identifier: GPL-2.0
/*
 * Copy buffers kept for reuse: see &struct buf_cache.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-buf: " fmt

#include <linux/mm.h>
#include <linux/slab.h>
#include "buf_cache.h"

/**
 * buf_cache_init() - an empty cache
 * @bc: the cache
 * @size: bytes per buffer, at least the size of a pointer
 * @keep_bytes: how many bytes of free buffers to keep at most
 * @stat: the object count of the buffers
 */
void buf_cache_init(struct buf_cache *bc, size_t size, size_t keep_bytes,
		    enum blksnap_stat stat)
{
	spin_lock_init(&bc->lock);
	bc->free = NULL;
	bc->nr_free = 0;
	bc->size = size;
	bc->keep = keep_bytes / size;
	bc->stat = stat;
}

/**
 * buf_cache_get() - a buffer: a free one, else a new one
 * @bc: the cache
 * @gfp: the allocation flags of a new one (GFP_KERNEL in a NOIO scope
 *	lets a large buffer come from vmalloc)
 *
 * Context: any, if @gfp does not sleep.
 * Return: the buffer (its content is undefined), or NULL.
 */
void *buf_cache_get(struct buf_cache *bc, gfp_t gfp)
{
	unsigned long flags;
	void *buf;

	spin_lock_irqsave(&bc->lock, flags);
	buf = bc->free;
	if (buf) {
		bc->free = *(void **)buf;
		bc->nr_free--;
	}
	spin_unlock_irqrestore(&bc->lock, flags);
	if (buf)
		return buf;

	buf = kvmalloc(bc->size, gfp | __GFP_NOWARN);
	if (buf)
		blksnap_stat_add(bc->stat, 1);
	return buf;
}

/**
 * buf_cache_put() - give a buffer of buf_cache_get() back
 * @bc: the cache
 * @buf: the buffer: kept if the cache has room, else freed
 *
 * Context: process context (a vmalloc buffer may have to be freed).
 */
void buf_cache_put(struct buf_cache *bc, void *buf)
{
	unsigned long flags;
	bool kept = false;

	spin_lock_irqsave(&bc->lock, flags);
	if (bc->nr_free < bc->keep) {
		*(void **)buf = bc->free;
		bc->free = buf;
		bc->nr_free++;
		kept = true;
	}
	spin_unlock_irqrestore(&bc->lock, flags);
	if (kept)
		return;
	kvfree(buf);
	blksnap_stat_sub(bc->stat, 1);
}

/**
 * buf_cache_destroy() - free the free buffers
 * @bc: the cache, initialised or zeroed; no buffer of it is in use
 *
 * Context: process context.
 */
void buf_cache_destroy(struct buf_cache *bc)
{
	void *buf;

	while ((buf = bc->free)) {
		bc->free = *(void **)buf;
		kvfree(buf);
		blksnap_stat_sub(bc->stat, 1);
	}
	bc->nr_free = 0;
}
