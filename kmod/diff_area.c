// SPDX-License-Identifier: GPL-2.0
/*
 * Copy-on-write of one device of a taken snapshot.
 *
 * The bio path only tests a bit per chunk: a write to chunks already in
 * the difference storage passes.  Any other write is considered (by its
 * submitter when it may sleep, else by pending_work): the copies of the
 * chunks it needs begin, and it is parked on the first one not done; each
 * finished copy considers its writes again, and a write goes to the
 * device once every chunk it touches is copied.  At most cow_max_copies
 * copies of a device are in flight (the others wait on the copy
 * workqueue); their buffers are kept for the next copies; writers that
 * get too far ahead are throttled.
 *
 * Image reads are mapped to runs of chunks (diff_area_image_map()) that
 * the image sends down as clones of its bio: to the original for chunks
 * not copied, counted as readers so that the original's writes wait for
 * them until the clone completes; to the storage device for copied ones.
 * Chunks stored in files, and writes to the image, are served by the
 * image's worker (diff_area_image_io()): writes first have the chunk
 * copied, then go to its place in the storage.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-cow: " fmt

#include <linux/blkdev.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "cbt_map.h"
#include "diff_area.h"
#include "snapshot.h"
#include "stats.h"
#include "tracker.h"

static unsigned int cow_max_pending = 256;
module_param_named(cow_max_pending, cow_max_pending, uint, 0444);
MODULE_PARM_DESC(cow_max_pending,
		 "Writes of one device that may wait for copies before writers are throttled (default 256)");

static unsigned int cow_max_copies = 64;
module_param_named(cow_max_copies, cow_max_copies, uint, 0444);
MODULE_PARM_DESC(cow_max_copies,
		 "Copies in flight per device, each of up to 1 MiB of consecutive chunks (default 64)");

/**
 * diff_area_init() - check the parameters
 *
 * Context: module init.
 * Return: 0.
 */
int diff_area_init(void)
{
	cow_max_copies = clamp(cow_max_copies, 1U, 256U);
	cow_max_pending = max(cow_max_pending, 1U);
	return 0;
}

/**
 * diff_area_exit() - nothing left to do: every snapshot is gone
 *
 * Context: module exit.
 */
void diff_area_exit(void)
{
}

/**
 * diff_area_alloc_wq() - the copy workqueue of a snapshot
 * @io: the copy I/O workqueue instead
 *
 * Each snapshot has its own, so that its copies never wait behind those
 * of another (whose storage may be a file on one of its devices).  The
 * copy workqueue considers deferred writes and starts copies (reads of the
 * original); its workers may wait for a copy to end (at most
 * cow_max_copies in flight per device) and for memory (a buffer of the
 * reserve, given back by a copy that ends).  The copy I/O workqueue stores
 * what was read and ends the copies: it never waits for the copy
 * workqueue, so copies always end.  Its work is queued by the completion
 * of a copy's I/O and is short: a per-CPU high-priority workqueue runs it
 * on the CPU that completed the I/O, without waking a worker on another
 * (first writes after a take went about a third faster under qemu than
 * with an unbound one).
 *
 * Context: process context, may sleep.
 * Return: the workqueue or NULL.
 */
struct workqueue_struct *diff_area_alloc_wq(bool io)
{
	if (io)
		return alloc_workqueue("blksnap-cow-io",
				       WQ_HIGHPRI | WQ_MEM_RECLAIM, 0);
	return alloc_workqueue("blksnap-cow", WQ_UNBOUND | WQ_MEM_RECLAIM,
			       cow_max_copies);
}

static sector_t diff_area_chunk_sectors(struct diff_area *da,
					unsigned long index)
{
	sector_t start = (sector_t)index << da->chunk_shift;

	return min_t(sector_t, 1ULL << da->chunk_shift, da->capacity - start);
}

/* The bio's first sector in the diff area's device. */
/*
 * The sectors a bio writes, in the diff area's device: [*@start, *@end),
 * cut to the device.  The bio may be of the device, of its whole disk, or
 * of a partition of it (the device being the whole disk).
 */
static void diff_area_bio_range(struct diff_area *da, struct bio *bio,
				sector_t *start, sector_t *end)
{
	sector_t first = tracker_bio_sector(bio) + bio->bi_bdev->bd_start_sect;
	sector_t last = first + bio_sectors(bio);
	sector_t base = da->orig->bd_start_sect;

	*start = first > base ? first - base : 0;
	*end = last > base ? min(last - base, da->capacity) : 0;
}

/* Chunks whose copied bits one page of the copied map holds. */
#define DIFF_AREA_BITS_PER_PAGE	(PAGE_SIZE * BITS_PER_BYTE)

/* Whether a chunk is copied (and settled).  Lock-free. */
static bool diff_area_copied(struct diff_area *da, unsigned long index)
{
	unsigned long *bits;

	bits = READ_ONCE(da->copied[index / DIFF_AREA_BITS_PER_PAGE]);
	return bits && test_bit(index % DIFF_AREA_BITS_PER_PAGE, bits);
}

/*
 * Allocate the page of the copied map that holds a chunk's bit, if it is
 * not there yet, so that setting the bit later (under the xa_lock)
 * cannot fail.  Process context, in a NOIO scope.
 */
static int diff_area_copied_prepare(struct diff_area *da, unsigned long index)
{
	unsigned long **slot = &da->copied[index / DIFF_AREA_BITS_PER_PAGE];
	unsigned long *bits;

	if (READ_ONCE(*slot))
		return 0;
	bits = (unsigned long *)get_zeroed_page(GFP_NOIO);
	if (!bits)
		return -ENOMEM;
	if (cmpxchg(slot, NULL, bits))
		free_page((unsigned long)bits);
	return 0;
}

/*
 * Copy-on-write is over: the snapshot is corrupted (for any of its
 * devices) or being destroyed.  Every write passes.
 */
static bool diff_area_passes(struct diff_area *da)
{
	return READ_ONCE(da->stopped) || READ_ONCE(da->error) ||
	       READ_ONCE(da->snapshot->error);
}

/*
 * The chunks a write touches, in the diff area's device: true, with the
 * first one not copied yet in *@first and the last one in *@last, if the
 * write must wait; false if it may pass (all copied, past the end, or
 * copy-on-write over).  Lock-free: reads the copied bits only.
 */
static bool diff_area_needs_copy(struct diff_area *da, struct bio *bio,
				 unsigned long *first, unsigned long *last)
{
	sector_t sector, end;
	unsigned long index;

	diff_area_bio_range(da, bio, &sector, &end);
	if (sector >= end || diff_area_passes(da))
		return false;
	*last = (end - 1) >> da->chunk_shift;
	for (index = sector >> da->chunk_shift; index <= *last; index++) {
		if (!diff_area_copied(da, index)) {
			*first = index;
			return true;
		}
	}
	return false;
}

/* The mark of the entries of a diff area's chunks that are a struct chunk. */
#define DIFF_AREA_IN_USE	XA_MARK_0

static void diff_area_free_work(struct work_struct *work)
{
	struct diff_area *da = container_of(work, struct diff_area, free_work);
	struct chunk *chunk;
	unsigned long index;

	xa_for_each_marked(&da->chunks, index, chunk, DIFF_AREA_IN_USE) {
		kfree(chunk);
		blksnap_stat_sub(BLKSNAP_STAT_CHUNKS, 1);
	}
	xa_destroy(&da->chunks);
	for (index = 0; index < DIV_ROUND_UP(da->chunk_count,
					     DIFF_AREA_BITS_PER_PAGE); index++)
		free_page((unsigned long)da->copied[index]);
	kvfree(da->copied);
	snapshot_put(da->snapshot);
	kfree(da);
	blksnap_stat_sub(BLKSNAP_STAT_DIFF_AREAS, 1);
}

static void diff_area_release(struct kref *kref)
{
	struct diff_area *da = container_of(kref, struct diff_area, kref);

	/* The last put may come from the bio path: free in process context. */
	queue_work(blksnap_wq, &da->free_work);
}

/**
 * diff_area_put() - drop a reference
 * @da: the diff area
 *
 * Context: any.
 */
void diff_area_put(struct diff_area *da)
{
	kref_put(&da->kref, diff_area_release);
}

/**
 * diff_area_get() - take a reference unless the diff area is going away
 * @da: the diff area, seen under RCU or through a held reference
 *
 * Context: any.
 * Return: whether a reference was taken.
 */
bool diff_area_get(struct diff_area *da)
{
	return kref_get_unless_zero(&da->kref);
}

static void diff_area_pending_work(struct work_struct *work);

/**
 * diff_area_create() - the copy-on-write state of a device, all chunks
 * on the original
 * @snapshot: the snapshot; the diff area takes a reference
 * @orig: the original device
 * @cbt_map: its CBT map
 * @capacity: its capacity in sectors
 * @chunk_size: chunk size in bytes, a power of two
 *
 * Context: process context, may sleep.
 * Return: the diff area or ERR_PTR(-ENOMEM).
 */
struct diff_area *diff_area_create(struct snapshot *snapshot,
				   struct block_device *orig,
				   struct cbt_map *cbt_map, sector_t capacity,
				   unsigned int chunk_size)
{
	struct diff_area *da;

	da = kzalloc(sizeof(*da), GFP_KERNEL);
	if (!da)
		return ERR_PTR(-ENOMEM);
	da->chunk_shift = ilog2(chunk_size) - SECTOR_SHIFT;
	da->capacity = capacity;
	da->chunk_count = DIV_ROUND_UP_SECTOR_T(capacity, 1U << da->chunk_shift);
	da->copied = kvcalloc(DIV_ROUND_UP(da->chunk_count,
					   DIFF_AREA_BITS_PER_PAGE),
			      sizeof(*da->copied), GFP_KERNEL);
	if (!da->copied) {
		kfree(da);
		return ERR_PTR(-ENOMEM);
	}
	kref_init(&da->kref);
	da->snapshot = snapshot;
	snapshot_get(snapshot);
	da->orig = orig;
	da->cbt_map = cbt_map;
	xa_init_flags(&da->chunks, XA_FLAGS_LOCK_IRQ);
	init_waitqueue_head(&da->wq);
	spin_lock_init(&da->pending_lock);
	bio_list_init(&da->pending);
	atomic_set(&da->pending_count, 0);
	INIT_WORK(&da->pending_work, diff_area_pending_work);
	INIT_WORK(&da->free_work, diff_area_free_work);
	blksnap_stat_add(BLKSNAP_STAT_DIFF_AREAS, 1);
	return da;
}

/*
 * The chunk of an index, created in state CHUNK_NEW if absent; NULL if the
 * chunk is copied and settled (its entry is a value).  Called and returns
 * with the xa_lock held (interrupts off); may drop it to allocate.
 */
static struct chunk *__diff_area_chunk(struct diff_area *da,
				       unsigned long index)
{
	struct chunk *chunk;
	void *old;

	old = xa_load(&da->chunks, index);
	if (old)
		return xa_is_value(old) ? NULL : old;

	xa_unlock_irq(&da->chunks);
	chunk = kzalloc(sizeof(*chunk), GFP_NOIO);
	xa_lock_irq(&da->chunks);
	if (!chunk)
		return ERR_PTR(-ENOMEM);
	chunk->da = da;
	chunk->index = index;
	chunk->state = CHUNK_NEW;
	bio_list_init(&chunk->waiting);
	old = __xa_cmpxchg(&da->chunks, index, NULL, chunk, GFP_NOIO);
	if (old) {
		kfree(chunk);
		if (xa_is_err(old))
			return ERR_PTR(xa_err(old));
		return xa_is_value(old) ? NULL : old;
	}
	__xa_set_mark(&da->chunks, index, DIFF_AREA_IN_USE);
	blksnap_stat_add(BLKSNAP_STAT_CHUNKS, 1);
	return chunk;
}

/*
 * Where a settled copied chunk is, from its entry (an xarray value).
 * Any context.
 */
static int diff_area_stored(struct diff_area *da, unsigned long index,
			    void *entry, struct diff_region *region)
{
	return diff_storage_region(&da->snapshot->storage, xa_to_value(entry),
				   diff_area_chunk_sectors(da, index), region);
}

/*
 * Consider the pending bios and begin the copies asked ahead, once copies
 * may run.  pending_lock held.
 */
static void __diff_area_kick(struct diff_area *da)
{
	lockdep_assert_held(&da->pending_lock);
	if (!da->open || (bio_list_empty(&da->pending) && !da->nr_ahead))
		return;
	diff_area_get(da);
	if (!queue_work(da->snapshot->cow_wq, &da->pending_work))
		diff_area_put(da);
}

static void diff_area_requeue(struct diff_area *da, struct bio_list *bios)
{
	unsigned long flags;

	if (bio_list_empty(bios))
		return;
	spin_lock_irqsave(&da->pending_lock, flags);
	bio_list_merge(&da->pending, bios);
	__diff_area_kick(da);
	spin_unlock_irqrestore(&da->pending_lock, flags);
}

/**
 * diff_area_open() - let the copies begin
 * @da: the diff area
 *
 * The take calls it once every write that passed the filter before the
 * switch has completed: a copy started earlier could read a chunk before
 * such a write lands, and the image would hold half of it.  The writes
 * deferred meanwhile are considered now.
 *
 * Context: any.
 */
void diff_area_open(struct diff_area *da)
{
	unsigned long flags;

	spin_lock_irqsave(&da->pending_lock, flags);
	da->open = true;
	__diff_area_kick(da);
	spin_unlock_irqrestore(&da->pending_lock, flags);
}

/*
 * After a change of a chunk's state or readers.  Once a chunk is read for
 * its copy and no image reader of the original is left, the waiting
 * writes go back to be considered: its data is in the copy's buffer, so
 * the original may change while the storage is written.  A copied chunk
 * with no image reader left is settled: writes pass from now on without
 * a look at the chunk, and the struct gives way to
 * the chunk's place in the storage (an xarray value, so that a copied
 * chunk costs its slot in the xarray and nothing more until destroy).  A
 * new chunk that nothing uses any more is dropped; a failed one stays.
 * xa_lock held; the waiting bios are moved to @release for the caller to
 * requeue after unlocking; @chunk may be freed.
 */
static void __diff_area_chunk_update(struct diff_area *da,
				     struct chunk *chunk,
				     struct bio_list *release)
{
	unsigned long index = chunk->index;
	void *old;

	if (chunk->state == CHUNK_COPYING || chunk->readers)
		return;
	bio_list_merge(release, &chunk->waiting);
	bio_list_init(&chunk->waiting);
	if (chunk->state == CHUNK_STORING || chunk->state == CHUNK_FAILED)
		return;
	if (chunk->state == CHUNK_COPIED) {
		set_bit(index % DIFF_AREA_BITS_PER_PAGE,
			da->copied[index / DIFF_AREA_BITS_PER_PAGE]);
		/* Replaces an entry: needs no memory, cannot fail. */
		old = __xa_store(&da->chunks, index,
				 xa_mk_value(diff_region_pos(&chunk->region)),
				 GFP_ATOMIC);
		WARN_ON_ONCE(old != chunk);
		__xa_clear_mark(&da->chunks, index, DIFF_AREA_IN_USE);
	} else {
		__xa_erase(&da->chunks, index);
	}
	kfree(chunk);
	blksnap_stat_sub(BLKSNAP_STAT_CHUNKS, 1);
}

#define DIFF_AREA_BATCH_MAX	16

/* Chunks one copy takes at most: 1 MiB of them, 16 at most, 1 at least. */
static unsigned int __diff_area_batch_max(unsigned int chunk_size)
{
	if (chunk_size >= DIFF_AREA_BATCH_BYTES)
		return 1;
	return min_t(unsigned int, DIFF_AREA_BATCH_MAX,
		     DIFF_AREA_BATCH_BYTES / chunk_size);
}

static unsigned int diff_area_batch_max(struct diff_area *da)
{
	return __diff_area_batch_max(1U << (da->chunk_shift + SECTOR_SHIFT));
}

/**
 * diff_area_batch_bytes() - the size of the buffer of a copy of several
 * chunks
 * @chunk_size: the snapshot's chunk size in bytes
 *
 * Return: the bytes of the most chunks one copy takes (a copy of one
 * chunk uses a buffer of the snapshot's reserve instead).
 */
size_t diff_area_batch_bytes(unsigned int chunk_size)
{
	return (size_t)__diff_area_batch_max(chunk_size) * chunk_size;
}

/**
 * struct diff_copy - the copy of a run of chunks, in flight
 * @da: the diff area (a reference is held)
 * @chunks: the chunks, in CHUNK_COPYING, then CHUNK_STORING step by
 *	step; never freed while they are
 * @n: how many
 * @pos: the first chunk of the current step
 * @step: chunks per step: all of them with a buffer for the run, one at
 *	a time with a buffer of the reserve
 * @count: sectors of the current step
 * @buf: the buffer of a step
 * @pooled: @buf is chunk-sized, from the snapshot's reserve; else it is
 *	of diff_area_batch_bytes(), from the snapshot's batch buffers
 * @bios: bios of the current stage in flight, plus one while they are sent
 * @error: the first error; written before the last bio of a stage ends
 * @low: free storage fell under the threshold
 * @stage: what @work does next
 * @work: the next stage, on the snapshot's copy I/O workqueue
 *
 * A step reads its chunks from the original (bios sent from the copy
 * workqueue), then, once the last read ends, writes them to the storage
 * in the fewest pieces its contiguity allows (sent from the snapshot's
 * copy I/O workqueue; a storage file is written there synchronously) and
 * lets the writes waiting for its chunks go to the original beside the
 * storage write (see diff_copy_stored_soon()); the last write's end
 * starts the next step, or ends the copy.  No worker waits for the
 * disks, so that as many copies run as writes need, and both disks stay
 * busy.
 */
struct diff_copy {
	struct diff_area *da;
	struct chunk *chunks[DIFF_AREA_BATCH_MAX];
	unsigned int n;
	unsigned int pos;
	unsigned int step;
	sector_t count;
	void *buf;
	bool pooled;
	atomic_t bios;
	int error;
	bool low;
	enum { DIFF_COPY_WRITE, DIFF_COPY_NEXT } stage;
	struct work_struct work;
};

/* A bio of a stage ended; the last one queues the next stage. */
static void diff_copy_put_bio(struct diff_copy *copy)
{
	if (atomic_dec_and_test(&copy->bios))
		queue_work(copy->da->snapshot->cow_io_wq, &copy->work);
}

static void diff_copy_bio_end(struct bio *bio)
{
	struct diff_copy *copy = bio->bi_private;

	if (bio->bi_status)
		cmpxchg(&copy->error, 0, blk_status_to_errno(bio->bi_status));
	bio_put(bio);
	diff_copy_put_bio(copy);
}

static void diff_copy_set_error(struct diff_copy *copy, int error)
{
	if (error)
		cmpxchg(&copy->error, 0, error);
}

static void diff_area_consider(struct diff_area *da, struct bio *bio,
			       bool here);

/*
 * Consider again each write of @bios (released together: they go down
 * together, under one plug), with @here as for diff_area_consider().
 * Process context.
 */
static void diff_area_consider_list(struct diff_area *da,
				    struct bio_list *bios, bool here)
{
	struct blk_plug plug;
	struct bio *bio;

	blk_start_plug(&plug);
	while ((bio = bio_list_pop(bios)))
		diff_area_consider(da, bio, here);
	blk_finish_plug(&plug);
}

/*
 * A copy is over: its @n chunks settle (or fail with @ret, and the
 * snapshot is corrupted), their waiting writes are considered again at
 * once (most go down from here, without another trip through the copy
 * workqueue); drops the copy's count and its reference to @da.  Process
 * context, in a NOIO scope, on either copy workqueue.
 */
static void diff_area_copy_end(struct diff_area *da, struct chunk **chunks,
			       unsigned int n, int ret)
{
	struct bio_list release = BIO_EMPTY_LIST;
	unsigned int i;

	if (ret && !diff_area_passes(da)) {
		pr_err_ratelimited("cannot copy chunks %lu-%lu: %d\n",
				   chunks[0]->index, chunks[0]->index + n - 1,
				   ret);
		snapshot_set_error(da->snapshot, da, ret);
	}

	xa_lock_irq(&da->chunks);
	for (i = 0; i < n; i++) {
		if (ret) {
			chunks[i]->state = CHUNK_FAILED;
		} else {
			chunks[i]->state = CHUNK_COPIED;
			blksnap_count(BLKSNAP_COUNTER_CHUNKS_COPIED);
		}
		/* The chunk may be freed. */
		__diff_area_chunk_update(da, chunks[i], &release);
	}
	xa_unlock_irq(&da->chunks);

	diff_area_consider_list(da, &release, false);
	/* Last: diff_area_wait_copies() returns once the count is zero. */
	atomic_dec(&da->copies);
	wake_up_all(&da->wq);
	diff_area_put(da);
}

static void diff_copy_end(struct diff_copy *copy)
{
	struct diff_area *da = copy->da;

	if (copy->pooled)
		snapshot_buffer_free(da->snapshot, copy->buf);
	else
		buf_cache_put(&da->snapshot->batch_bufs, copy->buf);
	if (copy->low)
		snapshot_low_space(da->snapshot);
	diff_area_copy_end(da, copy->chunks, copy->n, READ_ONCE(copy->error));
	kfree(copy);
}

/* Read the chunks of the step at @copy->pos from the original. */
static void diff_copy_read(struct diff_copy *copy)
{
	struct diff_area *da = copy->da;
	unsigned long first = copy->chunks[copy->pos]->index;
	unsigned int i, m = min(copy->step, copy->n - copy->pos);
	int ret = 0;

	copy->count = 0;
	for (i = 0; i < m; i++) {
		ret = ret ?: diff_area_copied_prepare(da, first + i);
		copy->count += diff_area_chunk_sectors(da, first + i);
	}
	if (!ret && diff_area_passes(da))
		ret = -ESHUTDOWN;
	copy->stage = DIFF_COPY_WRITE;
	atomic_set(&copy->bios, 1);
	if (!ret)
		ret = diff_io_bdev_submit(da->orig, REQ_OP_READ,
					  (sector_t)first << da->chunk_shift,
					  copy->buf, copy->count,
					  diff_copy_bio_end, copy, &copy->bios);
	diff_copy_set_error(copy, ret);
	diff_copy_put_bio(copy);
}

/*
 * The step's @m chunks from @copy->pos are in the buffer and their storage
 * writes sent: the original's writes waiting for them go down now, beside
 * the storage writes, instead of after them.  Nothing reads these chunks
 * on the original again: image reads wait for the store (CHUNK_STORING),
 * and a failed store corrupts the snapshot, never the original.  The
 * snapshot does not survive a reboot, so the storage write need not be
 * durable before the original changes either.  On the copy I/O
 * workqueue, while the copy holds its own count of @copy->bios (the step
 * cannot end meanwhile).
 */
static void diff_copy_stored_soon(struct diff_copy *copy, unsigned int m)
{
	struct bio_list release = BIO_EMPTY_LIST;
	struct diff_area *da = copy->da;
	unsigned int i;

	xa_lock_irq(&da->chunks);
	for (i = copy->pos; i < copy->pos + m; i++) {
		copy->chunks[i]->state = CHUNK_STORING;
		__diff_area_chunk_update(da, copy->chunks[i], &release);
	}
	xa_unlock_irq(&da->chunks);

	diff_area_consider_list(da, &release, false);
}

/*
 * The step's chunks are in the buffer: write them to the storage, in as
 * few pieces as its contiguity allows, set each chunk's region, and let
 * the writes waiting for them go.  On the copy I/O workqueue, in a NOIO
 * scope.
 */
static void diff_copy_write(struct diff_copy *copy)
{
	struct diff_area *da = copy->da;
	struct snapshot *snapshot = da->snapshot;
	sector_t unit = 1ULL << da->chunk_shift, off, done, len;
	unsigned int i = copy->pos;
	unsigned long first = copy->chunks[i]->index;
	struct diff_region piece;
	struct blk_plug plug;
	bool piece_low;
	int ret = READ_ONCE(copy->error);

	if (!ret && diff_area_passes(da))
		ret = -ESHUTDOWN;
	copy->stage = DIFF_COPY_NEXT;
	atomic_set(&copy->bios, 1);
	blk_start_plug(&plug);
	for (off = 0; !ret && off < copy->count; off += piece.count) {
		ret = diff_storage_alloc(&snapshot->storage, copy->count - off,
					 unit, &piece, &piece_low);
		copy->low |= piece_low;
		if (ret)
			break;
		if (piece.range->file)
			ret = diff_region_io(&piece, REQ_OP_WRITE,
					     copy->buf + (off << SECTOR_SHIFT),
					     0, piece.count);
		else
			ret = diff_io_bdev_submit(piece.range->bdev.bdev,
						  REQ_OP_WRITE, piece.sector,
						  copy->buf + (off << SECTOR_SHIFT),
						  piece.count, diff_copy_bio_end,
						  copy, &copy->bios);
		for (done = 0; !ret && done < piece.count; done += len, i++) {
			len = diff_area_chunk_sectors(da, first + i - copy->pos);
			copy->chunks[i]->region = piece;
			copy->chunks[i]->region.sector += done;
			copy->chunks[i]->region.count = len;
		}
	}
	blk_finish_plug(&plug);
	diff_copy_set_error(copy, ret);
	if (!ret)
		diff_copy_stored_soon(copy, i - copy->pos);
	diff_copy_put_bio(copy);
}

/* The step is read: store it.  Or it is stored: the next one, or the end. */
static void diff_copy_work(struct work_struct *work)
{
	struct diff_copy *copy = container_of(work, struct diff_copy, work);
	unsigned int noio = memalloc_noio_save();

	if (copy->stage == DIFF_COPY_WRITE) {
		diff_copy_write(copy);
	} else {
		copy->pos += min(copy->step, copy->n - copy->pos);
		if (READ_ONCE(copy->error) || copy->pos == copy->n)
			diff_copy_end(copy);
		else
			diff_copy_read(copy);
	}
	memalloc_noio_restore(noio);
}

/*
 * Begin the copy of the @n chunks from @first, in CHUNK_COPYING (up to
 * diff_area_batch_max() of them), already counted in da->copies, with a
 * reference to @da that goes to the copy: allocate it and send the reads;
 * see &struct diff_copy.  Process context, may sleep for memory (never
 * inside a submission: a buffer of the reserve may be held by a copy
 * whose read waits on current->bio_list).
 */
static void diff_area_copy_begin(struct diff_area *da, unsigned long first,
				 unsigned int n)
{
	struct snapshot *snapshot = da->snapshot;
	struct chunk *chunks[DIFF_AREA_BATCH_MAX];
	struct diff_copy *copy;
	unsigned int noio, i;

	/* Chunks being copied are never freed: the pointers stay good. */
	xa_lock_irq(&da->chunks);
	for (i = 0; i < n; i++)
		chunks[i] = xa_load(&da->chunks, first + i);
	xa_unlock_irq(&da->chunks);

	noio = memalloc_noio_save();
	copy = kzalloc(sizeof(*copy), GFP_NOIO);
	if (!copy) {
		diff_area_copy_end(da, chunks, n, -ENOMEM);
		memalloc_noio_restore(noio);
		return;
	}
	copy->da = da;
	copy->n = n;
	memcpy(copy->chunks, chunks, n * sizeof(*chunks));
	INIT_WORK(&copy->work, diff_copy_work);
	copy->step = n;
	/* GFP_KERNEL in the NOIO scope: vmalloc may serve as a fallback. */
	if (n > 1)
		copy->buf = buf_cache_get(&snapshot->batch_bufs, GFP_KERNEL);
	if (!copy->buf) {
		/* One chunk, or no memory for more: one by one, reserved. */
		copy->buf = snapshot_buffer_alloc(snapshot);
		copy->pooled = true;
		copy->step = 1;
	}
	diff_copy_read(copy);
	memalloc_noio_restore(noio);
}

/*
 * Count a copy in da->copies if fewer than cow_max_copies are in flight.
 * Counted before copy-on-write is checked (in diff_copy_read()), and
 * atomic_add_unless() is fully ordered when it adds: either the copy sees
 * diff_area_stop() or diff_area_wait_copies() sees the copy.
 */
static bool diff_area_copy_slot(struct diff_area *da)
{
	return atomic_add_unless(&da->copies, 1, cow_max_copies);
}

/*
 * The copy of a run of chunks, queued for the first of them when it could
 * not begin where it was decided: waits for a slot, then begins it.
 */
static void diff_area_copy_work(struct work_struct *work)
{
	struct chunk *leader = container_of(work, struct chunk, work);
	struct diff_area *da = leader->da;

	/* The work's reference to @da goes to the copy. */
	wait_event(da->wq, diff_area_copy_slot(da));
	diff_area_copy_begin(da, leader->index, leader->batch);
}

/* Queue the copy of a run of chunks from @leader, in CHUNK_COPYING. */
static void __diff_area_queue_copy(struct diff_area *da, struct chunk *leader)
{
	INIT_WORK(&leader->work, diff_area_copy_work);
	diff_area_get(da);
	queue_work(da->snapshot->cow_wq, &leader->work);
}

/* Copies one consideration begins itself, once it drops the xa_lock. */
#define DIFF_AREA_STARTS_MAX	4

/**
 * struct diff_area_starts - the copies a consideration of a write decided
 * @here: they may begin in this context (see diff_area_consider())
 * @nr: how many are in @leader
 * @leader: the first chunk of each run
 */
struct diff_area_starts {
	bool here;
	unsigned int nr;
	struct chunk *leader[DIFF_AREA_STARTS_MAX];
};

/* A copy from @leader: kept to begin here, or queued.  xa_lock held. */
static void __diff_area_add_start(struct diff_area *da,
				  struct diff_area_starts *starts,
				  struct chunk *leader)
{
	if (starts->here && starts->nr < DIFF_AREA_STARTS_MAX)
		starts->leader[starts->nr++] = leader;
	else
		__diff_area_queue_copy(da, leader);
}

/*
 * Begin the copies kept in @starts, those that get a slot at once; queue
 * the others.  After the xa_lock is dropped.
 */
static void diff_area_run_starts(struct diff_area *da,
				 struct diff_area_starts *starts)
{
	unsigned int i;

	for (i = 0; i < starts->nr; i++) {
		struct chunk *leader = starts->leader[i];

		if (!diff_area_copy_slot(da)) {
			__diff_area_queue_copy(da, leader);
			continue;
		}
		diff_area_get(da);
		diff_area_copy_begin(da, leader->index, leader->batch);
	}
	starts->nr = 0;
}

/* Start the copy of one chunk in CHUNK_NEW.  xa_lock held. */
static void __diff_area_start_copy(struct diff_area *da, struct chunk *chunk)
{
	chunk->state = CHUNK_COPYING;
	chunk->batch = 1;
	__diff_area_queue_copy(da, chunk);
}

/*
 * Begin the copies of every chunk of [@first, @last] not copied or being
 * copied yet, consecutive ones together (one read, writes to contiguous
 * storage), the runs in parallel: each marked CHUNK_COPYING, its run kept
 * in @starts or queued.  Called and returns with the xa_lock held (which
 * it may drop to allocate).  Return: 0, or the errno of a chunk that could
 * not be had (the runs before it begun all the same).
 */
static int __diff_area_start_copies(struct diff_area *da, unsigned long first,
				    unsigned long last,
				    struct diff_area_starts *starts)
{
	unsigned int batch_max = diff_area_batch_max(da);
	struct chunk *chunk, *leader = NULL;
	unsigned long index;

	for (index = first; index <= last; index++) {
		chunk = NULL;
		if (!diff_area_copied(da, index))
			chunk = __diff_area_chunk(da, index);
		if (IS_ERR(chunk)) {
			if (leader)
				__diff_area_add_start(da, starts, leader);
			return PTR_ERR(chunk);
		}
		if (!chunk || chunk->state != CHUNK_NEW) {
			if (leader)
				__diff_area_add_start(da, starts, leader);
			leader = NULL;
			continue;
		}
		chunk->state = CHUNK_COPYING;
		if (leader && leader->batch < batch_max) {
			leader->batch++;
			continue;
		}
		if (leader)
			__diff_area_add_start(da, starts, leader);
		leader = chunk;
		leader->batch = 1;
	}
	if (leader)
		__diff_area_add_start(da, starts, leader);
	return 0;
}

/*
 * Consider one deferred write: submit it if every chunk it touches is
 * copied or read for its copy (or the snapshot is corrupted), else start
 * the copies it needs and park it on the first chunk still being read.
 * With @here, the first few copies begin in this context when they get a
 * slot (the submitter's, or the pending worker's: neither inside a
 * submission nor on the copy I/O workqueue, whose work ends the copies
 * that hold the buffers); the others are queued on the copy workqueue.
 * Process context.
 */
static void diff_area_consider(struct diff_area *da, struct bio *bio,
			       bool here)
{
	struct diff_area_starts starts = { .here = here };
	unsigned long index, first, last;
	struct chunk *chunk;
	int ret;

	if (!diff_area_needs_copy(da, bio, &first, &last))
		goto submit;

	xa_lock_irq(&da->chunks);
	ret = __diff_area_start_copies(da, first, last, &starts);
	if (ret) {
		xa_unlock_irq(&da->chunks);
		diff_area_run_starts(da, &starts);
		snapshot_set_error(da->snapshot, da, ret);
		goto submit;
	}
	/*
	 * Wait on the first being read for its copy or by the image; no
	 * chunk of the range is new once its copy has begun.
	 */
	for (index = first; index <= last; index++) {
		chunk = xa_load(&da->chunks, index);
		if (chunk && !xa_is_value(chunk) &&
		    (chunk->state == CHUNK_COPYING || chunk->readers)) {
			bio_list_add(&chunk->waiting, bio);
			xa_unlock_irq(&da->chunks);
			/* @bio may be gone: copies may already end. */
			diff_area_run_starts(da, &starts);
			return;
		}
	}
	/* Every chunk read for its copy (or failed) in the meantime. */
	xa_unlock_irq(&da->chunks);
	diff_area_run_starts(da, &starts);

submit:
	blksnap_stat_sub(BLKSNAP_STAT_DEFERRED_BIOS, 1);
	if (atomic_dec_return(&da->pending_count) < cow_max_pending)
		wake_up_all(&da->wq);
	/* On to the device, or to the next copy-on-write it goes through. */
	tracker_io_submit(bio);
}

/*
 * Begin the copies of the chunks [@first, @last] of a refused REQ_NOWAIT
 * write, no write waiting on them.  The pending work.
 */
static void diff_area_copy_ahead(struct diff_area *da, unsigned long first,
				 unsigned long last)
{
	struct diff_area_starts starts = { .here = true };
	int ret;

	if (diff_area_passes(da))
		return;
	xa_lock_irq(&da->chunks);
	ret = __diff_area_start_copies(da, first, last, &starts);
	xa_unlock_irq(&da->chunks);
	diff_area_run_starts(da, &starts);
	if (ret)
		snapshot_set_error(da->snapshot, da, ret);
}

/*
 * A REQ_NOWAIT write that needs the copies of [@first, @last] is refused:
 * ask the pending work to begin them, so that it passes when sent again
 * instead of being refused for ever.  Any context.
 */
static void diff_area_ask_ahead(struct diff_area *da, unsigned long first,
				unsigned long last)
{
	unsigned long flags;
	unsigned int i;

	spin_lock_irqsave(&da->pending_lock, flags);
	for (i = 0; i < da->nr_ahead; i++)
		if (da->ahead[i][0] <= first && last <= da->ahead[i][1])
			goto out;
	if (da->nr_ahead < DIFF_AREA_AHEAD_MAX) {
		da->ahead[da->nr_ahead][0] = first;
		da->ahead[da->nr_ahead][1] = last;
		da->nr_ahead++;
	}
	__diff_area_kick(da);
out:
	spin_unlock_irqrestore(&da->pending_lock, flags);
}

static void diff_area_pending_work(struct work_struct *work)
{
	struct diff_area *da = container_of(work, struct diff_area,
					    pending_work);
	unsigned long ahead[DIFF_AREA_AHEAD_MAX][2];
	unsigned int i, nr_ahead;
	struct bio_list bios;
	unsigned long flags;

	spin_lock_irqsave(&da->pending_lock, flags);
	bios = da->pending;
	bio_list_init(&da->pending);
	nr_ahead = da->nr_ahead;
	memcpy(ahead, da->ahead, nr_ahead * sizeof(ahead[0]));
	da->nr_ahead = 0;
	spin_unlock_irqrestore(&da->pending_lock, flags);

	for (i = 0; i < nr_ahead; i++)
		diff_area_copy_ahead(da, ahead[i][0], ahead[i][1]);

	diff_area_consider_list(da, &bios, true);
	diff_area_put(da);
}

static bool diff_area_below_limit(struct diff_area *da)
{
	return atomic_read(&da->pending_count) < cow_max_pending ||
	       diff_area_passes(da);
}

/*
 * Whether the submitter may wait for copies: a task, not inside another
 * submission (current->bio_list: the bios it queued there cannot go on
 * while it sleeps, and a take may be waiting for them), and not one of
 * this module's workers (a copy writing a storage file on a device of
 * another snapshot must not wait for that snapshot's copies).
 */
static bool diff_area_may_throttle(void)
{
	struct work_struct *work;

	if (!in_task() || current->bio_list)
		return false;
	work = current_work();
	return !work || !within_module((unsigned long)work->func, THIS_MODULE);
}

/**
 * diff_area_submit_bio() - copy-on-write for a write to the original
 * @da: the diff area of the bio's device (or of its whole disk)
 * @bio: a write, discard or write-zeroes, not yet submitted
 *
 * Writes that touch only copied chunks pass.  Others are deferred until
 * the chunks are copied; a REQ_NOWAIT write that would have to wait ends
 * with -EAGAIN instead.  A discard that touches a chunk not copied ends
 * at once, successfully, without going down: it only says that the data
 * is no longer wanted (a read after it may return anything), so the
 * original may keep it, and copying free space into the storage because
 * of fstrim would waste it.  It is marked in the CBT maps all the same.
 * Write-zeroes and secure erase change what reads return: they are
 * copied for like writes.  A submitter that may sleep (see
 * diff_area_may_throttle(): a task, not inside another submission, not
 * one of the module's workers) is throttled while too many writes of the
 * device wait, and begins the copies its write needs itself.
 *
 * Context: bio submission path.  Sleeps only in task context without
 * REQ_NOWAIT, outside a stacked submission and the module's workers: to
 * throttle, and for memory while it begins copies.
 * Return: true if the bio was taken over (deferred or ended), false if
 * the caller submits it.
 */
bool diff_area_submit_bio(struct diff_area *da, struct bio *bio)
{
	unsigned long first, last, flags;
	unsigned int noio;
	bool may_sleep, here;

	if (!diff_area_needs_copy(da, bio, &first, &last))
		return false;

	if (bio_op(bio) == REQ_OP_DISCARD) {
		blksnap_count(BLKSNAP_COUNTER_DISCARDS_KEPT);
		bio_endio(bio);
		return true;
	}
	if (bio->bi_opf & REQ_NOWAIT) {
		blksnap_count(BLKSNAP_COUNTER_NOWAIT_REFUSED);
		diff_area_ask_ahead(da, first, last);
		bio_wouldblock_error(bio);
		return true;
	}
	may_sleep = diff_area_may_throttle();
	if (may_sleep && atomic_read(&da->pending_count) >= cow_max_pending) {
		blksnap_count(BLKSNAP_COUNTER_THROTTLED);
		wait_event(da->wq, diff_area_below_limit(da));
		/* Copy-on-write may have ended, or the chunks been copied. */
		if (!diff_area_needs_copy(da, bio, &first, &last))
			return false;
	}

	atomic_inc(&da->pending_count);
	blksnap_stat_add(BLKSNAP_STAT_DEFERRED_BIOS, 1);
	spin_lock_irqsave(&da->pending_lock, flags);
	/*
	 * Considered here, the copies it needs begin without a trip through
	 * the pending worker: when the submitter may sleep, copies may run
	 * (the take has drained the writes before the switch) and no
	 * earlier write waits to be considered (they stay in order).  Only
	 * for a write of at least a chunk: a smaller one costs its submitter
	 * a whole chunk's copy to begin, and small random writers are bound
	 * by their own CPU; the worker begins theirs on another.
	 */
	here = may_sleep && da->open && bio_list_empty(&da->pending) &&
	       bio_sectors(bio) >= (1U << da->chunk_shift);
	if (!here) {
		bio_list_add(&da->pending, bio);
		__diff_area_kick(da);
	}
	spin_unlock_irqrestore(&da->pending_lock, flags);
	if (here) {
		noio = memalloc_noio_save();
		diff_area_consider(da, bio, true);
		memalloc_noio_restore(noio);
	}
	return true;
}

/* Copy-on-write is over: the waiting writes go to the device. */
static void diff_area_release_waiting(struct diff_area *da)
{
	struct bio_list release = BIO_EMPTY_LIST;
	struct chunk *chunk;
	unsigned long index, flags;

	spin_lock_irqsave(&da->pending_lock, flags);
	da->open = true;
	spin_unlock_irqrestore(&da->pending_lock, flags);
	xa_lock_irq(&da->chunks);
	xa_for_each_marked(&da->chunks, index, chunk, DIFF_AREA_IN_USE) {
		bio_list_merge(&release, &chunk->waiting);
		bio_list_init(&chunk->waiting);
	}
	xa_unlock_irq(&da->chunks);
	wake_up_all(&da->wq);
	diff_area_requeue(da, &release);
}

/**
 * diff_area_set_error() - the snapshot is corrupted: stop copying
 * @da: the diff area
 * @error: the errno
 *
 * Waiting writes go to the device without a copy; images fail.
 *
 * Context: process context.
 */
void diff_area_set_error(struct diff_area *da, int error)
{
	WRITE_ONCE(da->error, error);
	diff_area_release_waiting(da);
}

/**
 * diff_area_wait_copies() - wait until no copy can write to the storage
 * @da: a diff area after diff_area_stop()
 *
 * A copy is counted from before it checks whether copy-on-write is over
 * (before it reads, and again before it writes) until it has ended: once
 * the count is zero after the stop, every copy that had begun is over and
 * any that begins later writes nothing.  The work they queued may still
 * run: the caller drains the copy workqueues afterwards.
 *
 * Context: process context, may sleep.
 */
void diff_area_wait_copies(struct diff_area *da)
{
	wait_event(da->wq, !atomic_read(&da->copies));
}

/**
 * diff_area_stop() - the snapshot is being destroyed: stop copying
 * @da: the diff area
 *
 * No copy starts from now on, and the writes deferred or waiting go to
 * the device without one.  Copies already running finish: the caller
 * waits for them (diff_area_wait_copies()) before it releases the
 * storage.
 *
 * Context: process context.
 */
void diff_area_stop(struct diff_area *da)
{
	WRITE_ONCE(da->stopped, true);
	diff_area_release_waiting(da);
}

/* Copy @bytes between the bio's data at @iter and @buf; advances @iter. */
static void diff_area_copy_bio(struct bio *bio, struct bvec_iter *iter,
			       void *buf, unsigned int bytes, bool to_bio)
{
	struct bio_vec bv;
	unsigned int n;

	while (bytes) {
		bv = bio_iter_iovec(bio, *iter);
		n = min(bv.bv_len, bytes);
		bv.bv_len = n;
		if (to_bio)
			memcpy_to_bvec(&bv, buf);
		else
			memcpy_from_bvec(buf, &bv);
		bio_advance_iter_single(bio, iter, n);
		buf += n;
		bytes -= n;
	}
}

/*
 * Whether a chunk's copy is still being written to the storage (or, with
 * @or_read, still being read from the original), copy-on-write going on.
 * Process context.
 */
static bool diff_area_copy_busy(struct diff_area *da, unsigned long index,
				bool or_read)
{
	struct chunk *chunk;
	bool busy;

	if (diff_area_passes(da))
		return false;
	xa_lock_irq(&da->chunks);
	chunk = xa_load(&da->chunks, index);
	busy = chunk && !xa_is_value(chunk) &&
	       (chunk->state == CHUNK_STORING ||
		(or_read && chunk->state == CHUNK_COPYING));
	xa_unlock_irq(&da->chunks);
	return busy;
}

/*
 * Wait until a chunk being stored is copied, its place in the storage
 * readable.  Return: 0, or -EIO once copy-on-write is over.
 */
static int diff_area_wait_stored(struct diff_area *da, unsigned long index)
{
	wait_event(da->wq, !diff_area_copy_busy(da, index, false));
	return diff_area_passes(da) ? -EIO : 0;
}

/* Read part of a chunk as it was at the take. */
static int diff_area_image_read(struct diff_area *da, unsigned long index,
				sector_t offset, sector_t count, void *buf)
{
	struct bio_list release = BIO_EMPTY_LIST;
	struct diff_region region;
	struct chunk *chunk;
	void *entry;
	int ret;

again:
	xa_lock_irq(&da->chunks);
	entry = xa_load(&da->chunks, index);
	chunk = xa_is_value(entry) ? NULL : __diff_area_chunk(da, index);
	if (!chunk) {
		/* Settled, maybe while the lock was dropped: look again. */
		entry = xa_load(&da->chunks, index);
		xa_unlock_irq(&da->chunks);
		ret = diff_area_stored(da, index, entry, &region);
		return ret ?: diff_region_io(&region, REQ_OP_READ, buf, offset,
					     count);
	}
	if (IS_ERR(chunk) || chunk->state == CHUNK_FAILED) {
		xa_unlock_irq(&da->chunks);
		return IS_ERR(chunk) ? PTR_ERR(chunk) : -EIO;
	}
	if (chunk->state == CHUNK_COPIED) {
		region = chunk->region;
		xa_unlock_irq(&da->chunks);
		return diff_region_io(&region, REQ_OP_READ, buf, offset, count);
	}
	if (chunk->state == CHUNK_STORING) {
		/* The original may have changed: read the storage, once written. */
		xa_unlock_irq(&da->chunks);
		ret = diff_area_wait_stored(da, index);
		if (ret)
			return ret;
		goto again;
	}
	/* On the original: its writes wait until this read is done. */
	chunk->readers++;
	xa_unlock_irq(&da->chunks);

	ret = diff_io_bdev(da->orig, REQ_OP_READ,
			   ((sector_t)index << da->chunk_shift) + offset,
			   buf, count);

	xa_lock_irq(&da->chunks);
	chunk->readers--;
	__diff_area_chunk_update(da, chunk, &release);
	xa_unlock_irq(&da->chunks);
	diff_area_requeue(da, &release);
	return ret;
}

/* Write part of a chunk of the image: copy the chunk first, then store. */
static int diff_area_image_write(struct diff_area *da, unsigned long index,
				 sector_t offset, sector_t count, void *buf)
{
	struct diff_region region;
	struct chunk *chunk;
	void *entry;
	int ret;

	for (;;) {
		if (diff_area_passes(da))
			return -EIO;
		xa_lock_irq(&da->chunks);
		chunk = __diff_area_chunk(da, index);
		if (!chunk) {
			entry = xa_load(&da->chunks, index);
			xa_unlock_irq(&da->chunks);
			ret = diff_area_stored(da, index, entry, &region);
			if (ret)
				return ret;
			break;
		}
		if (IS_ERR(chunk)) {
			xa_unlock_irq(&da->chunks);
			return PTR_ERR(chunk);
		}
		if (chunk->state == CHUNK_COPIED) {
			region = chunk->region;
			xa_unlock_irq(&da->chunks);
			break;
		}
		if (chunk->state == CHUNK_FAILED) {
			xa_unlock_irq(&da->chunks);
			return -EIO;
		}
		if (chunk->state == CHUNK_NEW)
			__diff_area_start_copy(da, chunk);
		xa_unlock_irq(&da->chunks);
		/* Until the copy is over (or copy-on-write is). */
		wait_event(da->wq, !diff_area_copy_busy(da, index, true));
	}

	ret = diff_region_io(&region, REQ_OP_WRITE, buf, offset, count);
	if (!ret)
		cbt_map_mark(da->cbt_map,
			     ((sector_t)index << da->chunk_shift) + offset, count);
	return ret;
}

/**
 * diff_area_image_io() - serve a bio of the snapshot image
 * @da: the diff area of the image's device
 * @bio: a read or a write of the image (not ended here)
 * @buf: a buffer of one chunk
 *
 * Reads return the data as it was at the take; writes go to the
 * difference storage (the original is never written) and are marked in
 * the device's CBT map.
 *
 * Context: the image's worker, may sleep; runs in a NOIO scope.
 * Return: 0 or a negative errno (-EIO once the snapshot is corrupted).
 */
int diff_area_image_io(struct diff_area *da, struct bio *bio, void *buf)
{
	bool write = op_is_write(bio_op(bio));
	struct bvec_iter iter = bio->bi_iter;
	sector_t sector = iter.bi_sector;
	sector_t end = bio_end_sector(bio);
	sector_t chunk_start, count;
	unsigned long index;
	int ret;

	if (end > da->capacity)
		return -EIO;
	while (sector < end) {
		if (diff_area_passes(da))
			return -EIO;
		index = sector >> da->chunk_shift;
		chunk_start = (sector_t)index << da->chunk_shift;
		count = min(end, chunk_start + diff_area_chunk_sectors(da, index)) -
			sector;
		if (write) {
			diff_area_copy_bio(bio, &iter, buf,
					   count << SECTOR_SHIFT, false);
			ret = diff_area_image_write(da, index,
						    sector - chunk_start,
						    count, buf);
		} else {
			ret = diff_area_image_read(da, index,
						   sector - chunk_start,
						   count, buf);
			if (!ret)
				diff_area_copy_bio(bio, &iter, buf,
						   count << SECTOR_SHIFT, true);
		}
		if (ret)
			return ret;
		sector += count;
	}
	return 0;
}

/*
 * Where the image reads one chunk: the chunk's first sector on the device
 * @map is sent to (@map->to, ->bdev, ->sector; ->count left alone).  A
 * chunk on the original (never copied, or being read for its copy: its
 * writes wait either way) gets a reader, which the caller drops.  Called
 * and returns with the xa_lock held (interrupts off); may drop it to
 * allocate.  Return: 0, -EAGAIN for a chunk being stored (the original
 * may have changed, the storage is not written yet: wait, then map
 * again), -EIO for a chunk whose copy failed, or -ENOMEM.
 */
static int __diff_area_image_chunk(struct diff_area *da, unsigned long index,
				   struct diff_area_map *map)
{
	struct diff_region region;
	struct chunk *chunk;
	void *entry;
	int ret;

	entry = xa_load(&da->chunks, index);
	chunk = xa_is_value(entry) ? NULL : __diff_area_chunk(da, index);
	if (IS_ERR(chunk))
		return PTR_ERR(chunk);
	if (chunk && chunk->state == CHUNK_FAILED)
		return -EIO;
	if (chunk && chunk->state == CHUNK_STORING)
		return -EAGAIN;
	if (chunk && chunk->state != CHUNK_COPIED) {
		/* On the original: its writes wait until the read is done. */
		chunk->readers++;
		map->to = DIFF_AREA_MAP_ORIG;
		map->bdev = da->orig;
		map->sector = (sector_t)index << da->chunk_shift;
		return 0;
	}
	if (chunk) {
		region = chunk->region;
	} else {
		/* Settled, maybe while the lock was dropped: look again. */
		entry = xa_load(&da->chunks, index);
		ret = diff_area_stored(da, index, entry, &region);
		if (ret)
			return ret;
	}
	if (region.range->file) {
		map->to = DIFF_AREA_MAP_SYNC;
		map->bdev = NULL;
		map->sector = 0;
	} else {
		map->to = DIFF_AREA_MAP_STORAGE;
		map->bdev = region.range->bdev.bdev;
		map->sector = region.sector;
	}
	return 0;
}

/*
 * Drop the readers of chunks [@first, @last] of the original; the writes
 * they release go to @release, for the caller to requeue after unlocking.
 * xa_lock held.
 */
static void __diff_area_image_put_readers(struct diff_area *da,
					  unsigned long first,
					  unsigned long last,
					  struct bio_list *release)
{
	struct chunk *chunk;
	unsigned long index;

	for (index = first; index <= last; index++) {
		chunk = xa_load(&da->chunks, index);
		/* A chunk with readers keeps its struct. */
		if (WARN_ON_ONCE(!chunk || xa_is_value(chunk) || !chunk->readers))
			continue;
		chunk->readers--;
		__diff_area_chunk_update(da, chunk, release);
	}
}

/**
 * diff_area_image_map() - where the next run of an image read goes
 * @da: the diff area of the image's device
 * @sector: the first sector of the image to read
 * @end: the end of the read (it does not pass the capacity)
 * @map: set to the longest run from @sector, up to @end, that one bio can
 *	read: consecutive chunks on the original, chunks stored one after
 *	the other on one storage device, or chunks stored in files
 *
 * Chunks of the run on the original hold a reader each, so that writes to
 * them wait until the read is over: the caller must end every successful
 * map with diff_area_image_unmap() once the read is done.
 *
 * Context: process context, may sleep (GFP_NOIO allocations, and until
 * the first chunk, if it is being stored, is copied).
 * Return: 0; -EIO once the snapshot is corrupted or for a chunk whose copy
 * failed; -ENOMEM.
 */
int diff_area_image_map(struct diff_area *da, sector_t sector, sector_t end,
			struct diff_area_map *map)
{
	unsigned long index = sector >> da->chunk_shift;
	struct bio_list release = BIO_EMPTY_LIST;
	struct diff_area_map next;
	sector_t chunk_start;
	int ret;

	if (end > da->capacity || diff_area_passes(da))
		return -EIO;
	chunk_start = (sector_t)index << da->chunk_shift;
again:
	xa_lock_irq(&da->chunks);
	ret = __diff_area_image_chunk(da, index, map);
	if (ret == -EAGAIN) {
		xa_unlock_irq(&da->chunks);
		ret = diff_area_wait_stored(da, index);
		if (ret)
			return ret;
		goto again;
	}
	if (ret)
		goto out_unlock;
	map->sector += sector - chunk_start;
	map->count = min(end, chunk_start + diff_area_chunk_sectors(da, index)) -
		     sector;
	map->first = index;
	map->last = index;
	while (sector + map->count < end) {
		index++;
		chunk_start = (sector_t)index << da->chunk_shift;
		if (__diff_area_image_chunk(da, index, &next))
			break;
		if (next.to != map->to ||
		    (map->to != DIFF_AREA_MAP_SYNC &&
		     (next.bdev != map->bdev ||
		      next.sector != map->sector + map->count))) {
			if (next.to == DIFF_AREA_MAP_ORIG)
				__diff_area_image_put_readers(da, index, index,
							      &release);
			break;
		}
		map->count += min(end, chunk_start +
				  diff_area_chunk_sectors(da, index)) -
			      chunk_start;
		map->last = index;
	}
out_unlock:
	xa_unlock_irq(&da->chunks);
	diff_area_requeue(da, &release);
	return ret;
}

/**
 * diff_area_image_unmap() - an image read mapped by diff_area_image_map()
 * is done
 * @da: the diff area
 * @map: the run it read
 *
 * The chunks read on the original drop their readers: the writes waiting
 * for them go on.
 *
 * Context: any, bio completion included.
 * Return: 0, or -EIO if the snapshot is corrupted or being destroyed: the
 * original's writes may no longer have waited, so the data read cannot be
 * trusted to be the take's.
 */
int diff_area_image_unmap(struct diff_area *da,
			  const struct diff_area_map *map)
{
	struct bio_list release = BIO_EMPTY_LIST;
	unsigned long flags;

	if (map->to == DIFF_AREA_MAP_ORIG) {
		xa_lock_irqsave(&da->chunks, flags);
		__diff_area_image_put_readers(da, map->first, map->last,
					      &release);
		xa_unlock_irqrestore(&da->chunks, flags);
		diff_area_requeue(da, &release);
	}
	return diff_area_passes(da) ? -EIO : 0;
}
