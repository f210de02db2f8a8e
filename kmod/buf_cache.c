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
 * @floor: how many buffers in use mean that copies have paused
 * @stat: the object count of the buffers
 */
void buf_cache_init(struct buf_cache *bc, size_t size, size_t keep_bytes,
		    unsigned int floor, enum blksnap_stat stat)
{
	spin_lock_init(&bc->lock);
	bc->free = NULL;
	bc->nr_free = 0;
	bc->in_use = 0;
	bc->size = size;
	bc->keep = keep_bytes / size;
	bc->floor = floor;
	bc->stat = stat;
}

/* Free a list of free buffers. */
static void buf_cache_free_list(struct buf_cache *bc, void *buf)
{
	void *next;

	for (; buf; buf = next) {
		next = *(void **)buf;
		kvfree(buf);
		blksnap_stat_sub(bc->stat, 1);
	}
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
	bc->in_use++;
	spin_unlock_irqrestore(&bc->lock, flags);
	if (buf)
		return buf;

	buf = kvmalloc(bc->size, gfp | __GFP_NOWARN);
	if (buf) {
		blksnap_stat_add(bc->stat, 1);
		return buf;
	}
	spin_lock_irqsave(&bc->lock, flags);
	bc->in_use--;
	spin_unlock_irqrestore(&bc->lock, flags);
	return NULL;
}

/**
 * buf_cache_put() - give a buffer of buf_cache_get() back
 * @bc: the cache
 * @buf: the buffer: kept if copies go on and the cache has room, else
 *	freed, with the kept ones if copies have paused
 *
 * Context: process context (a vmalloc buffer may have to be freed).
 */
void buf_cache_put(struct buf_cache *bc, void *buf)
{
	unsigned long flags;
	void *drop = NULL;

	*(void **)buf = NULL;
	spin_lock_irqsave(&bc->lock, flags);
	bc->in_use--;
	if (bc->in_use <= bc->floor) {
		*(void **)buf = bc->free;
		bc->free = NULL;
		bc->nr_free = 0;
		drop = buf;
	} else if (bc->nr_free < bc->keep) {
		*(void **)buf = bc->free;
		bc->free = buf;
		bc->nr_free++;
	} else {
		drop = buf;
	}
	spin_unlock_irqrestore(&bc->lock, flags);
	buf_cache_free_list(bc, drop);
}

/**
 * buf_cache_destroy() - free the free buffers
 * @bc: the cache, initialised or zeroed; no buffer of it is in use
 *
 * Context: process context.
 */
void buf_cache_destroy(struct buf_cache *bc)
{
	buf_cache_free_list(bc, bc->free);
	bc->free = NULL;
	bc->nr_free = 0;
}
