// SPDX-License-Identifier: GPL-2.0
/*
 * Trackers: the registry of tracked block devices, attach and detach, and
 * the hand-over of each bio of a tracked device to its CBT map.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-tracker: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/local_lock.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include "diff_area.h"
#include "genl.h"
#include "snapshot.h"
#include "stats.h"
#include "tracker.h"

/*
 * The registry of trackers, keyed by device number.  Entries are stored
 * and erased under tracker_mutex (which serialises every change of a
 * tracker: attach, detach, reset, marks made by the control path); the bio
 * path reads it under rcu_read_lock() only.
 */
static DEFINE_XARRAY(trackers);
static DEFINE_MUTEX(tracker_mutex);

/*
 * The whole disks that have tracked partitions: the disk's device number
 * -> how many (an xarray value), so that a write through the whole disk
 * is looked at for them.  Changed under tracker_mutex; read under RCU.
 */
static DEFINE_XARRAY(tracked_parts);

/*
 * The trackers whose states a write holds: its device's, its disk's, or
 * the tracked partitions a write through the whole disk touches.  A write
 * through the whole disk across more tracked partitions (a write-zeroes
 * of the whole disk) is split at the start of the first partition it
 * cannot hold, and each piece is held for its own partitions.
 */
#define TRACKER_IO_STATES	4

/**
 * struct tracker_io - a write of a tracked device, on its way
 * @states: the states it passed the filter under, a reference held on
 *	each until it completes; unused slots are NULL
 * @stage: the slot of @states whose copy-on-write it went through last,
 *	-1 before the first; only the task that has the write changes it
 * @disk: the disk of the device it was held for; the write seen again on
 *	another disk is a new write of that disk's device (see
 *	tracker_bio_is_own())
 * @end_io: held in place, the write's own end_io, given back when it ends;
 *	held by a clone, NULL
 * @private: held in place, the write's own bi_private; held by a clone,
 *	the write (it ends when @clone does); spare, the next spare one
 * @clone: held by a clone, what goes to the device instead of the write;
 *	not there in an object of tracker_io_cache
 *
 * What goes to the device (the write held in place, or @clone) has this
 * module's end_io and the tracker_io as bi_private; its remainder after a
 * split is the same bio, so it never comes back through the filter as
 * someone else's write.
 */
struct tracker_io {
	struct tracker_state *states[TRACKER_IO_STATES];
	int stage;
	struct gendisk *disk;
	bio_end_io_t *end_io;
	void *private;
	struct bio clone;
};

/*
 * Writes are held in place (their end_io and bi_private taken over, as
 * device mapper's dm_hook_bio() does) with a tracker_io from this cache,
 * allocated without waiting: no bio to set up, clone and free per write.
 * When that fails, a clone from tracker_bioset holds the write: its pool
 * and rescuer guarantee progress where a submission that waits for memory
 * holds earlier writes on current->bio_list.
 */
static struct kmem_cache *tracker_io_cache;

/*
 * The last tracker_io objects freed on a CPU, kept for its next writes.
 * Every write of a tracked device takes one and gives it back, and the
 * slab is several calls each way (its hooks, the zeroing that Debian's
 * init_on_alloc asks for, a double-word cmpxchg that qemu's TCG runs in a
 * helper): under TCG this list made tracked writes on null_blk a few
 * percent faster.  Elsewhere it costs a pop or a push with interrupts off
 * (writes end in interrupts).
 * A reused object is not zeroed: tracker_hold() sets every field.
 */
#define TRACKER_IO_SPARE_MAX	64

struct tracker_io_spare {
	local_lock_t lock;	/* protects the two fields below */
	struct tracker_io *head;	/* linked by ->private */
	unsigned int count;
};

static DEFINE_PER_CPU(struct tracker_io_spare, tracker_io_spare) = {
	.lock = INIT_LOCAL_LOCK(lock),
};

/* A tracker_io for a write, without waiting; NULL if there is none. */
static struct tracker_io *tracker_io_alloc(void)
{
	struct tracker_io_spare *list;
	struct tracker_io *io;
	unsigned long flags;

	local_lock_irqsave(&tracker_io_spare.lock, flags);
	list = this_cpu_ptr(&tracker_io_spare);
	io = list->head;
	if (io) {
		list->head = io->private;
		list->count--;
	}
	local_unlock_irqrestore(&tracker_io_spare.lock, flags);
	if (io)
		return io;
	return kmem_cache_alloc(tracker_io_cache, GFP_NOWAIT | __GFP_NOWARN);
}

/* Give a tracker_io back: to this CPU's list, or to the slab if full. */
static void tracker_io_free(struct tracker_io *io)
{
	struct tracker_io_spare *list;
	unsigned long flags;

	local_lock_irqsave(&tracker_io_spare.lock, flags);
	list = this_cpu_ptr(&tracker_io_spare);
	if (list->count < TRACKER_IO_SPARE_MAX) {
		io->private = list->head;
		list->head = io;
		list->count++;
		io = NULL;
	}
	local_unlock_irqrestore(&tracker_io_spare.lock, flags);
	if (io)
		kmem_cache_free(tracker_io_cache, io);
}

/* Empty every CPU's list; no write is held any more (module exit). */
static void tracker_io_spare_empty(void)
{
	struct tracker_io_spare *list;
	struct tracker_io *io;
	int cpu;

	for_each_possible_cpu(cpu) {
		list = per_cpu_ptr(&tracker_io_spare, cpu);
		while ((io = list->head)) {
			list->head = io->private;
			kmem_cache_free(tracker_io_cache, io);
		}
		list->count = 0;
	}
}

static bool hold_in_place = true;
module_param(hold_in_place, bool, 0644);
MODULE_PARM_DESC(hold_in_place,
		 "Hold tracked writes in place, taking over their end_io, rather than by a clone of each (default Y)");

/*
 * The clones of the tracked writes held by a clone, and the pieces of a
 * write split at a partition's start.  One submission may take several of
 * them while the clones it submitted wait on current->bio_list: the rescuer
 * sends those on when the pool runs dry.
 */
static struct bio_set tracker_bioset;

/**
 * tracker_init() - create the cache and the bio set of the tracked writes
 *
 * Context: module init, may sleep.
 * Return: 0 or -ENOMEM.
 */
int tracker_init(void)
{
	int ret;

	tracker_io_cache = kmem_cache_create("blksnap_tracker_io",
					     offsetof(struct tracker_io, clone),
					     0, 0, NULL);
	if (!tracker_io_cache)
		return -ENOMEM;
	ret = bioset_init(&tracker_bioset, BIO_POOL_SIZE,
			  offsetof(struct tracker_io, clone),
			  BIOSET_NEED_RESCUER);
	if (ret)
		kmem_cache_destroy(tracker_io_cache);
	return ret;
}

/**
 * tracker_exit() - free the cache and the bio set; no tracker is left
 *
 * Context: module exit, may sleep.
 */
void tracker_exit(void)
{
	bioset_exit(&tracker_bioset);
	tracker_io_spare_empty();
	kmem_cache_destroy(tracker_io_cache);
}

static void tracker_state_release(struct percpu_ref *ref)
{
	struct tracker_state *state = container_of(ref, struct tracker_state,
						   inflight);

	complete(&state->drained);
}

/**
 * tracker_state_create() - a state to publish later
 * @da: copy-on-write for the writes, or NULL; the state takes a reference
 *
 * Context: process context, may sleep.
 * Return: the state or ERR_PTR(-ENOMEM).
 */
struct tracker_state *tracker_state_create(struct diff_area *da)
{
	struct tracker_state *state;

	state = kzalloc(sizeof(*state), GFP_KERNEL);
	if (!state)
		return ERR_PTR(-ENOMEM);
	if (percpu_ref_init(&state->inflight, tracker_state_release, 0,
			    GFP_KERNEL)) {
		kfree(state);
		return ERR_PTR(-ENOMEM);
	}
	init_completion(&state->drained);
	if (da && !WARN_ON(!diff_area_get(da)))
		state->da = da;
	return state;
}

/**
 * tracker_state_destroy() - free a state never published, or drained
 * @state: the state, or NULL
 *
 * Context: process context.
 */
void tracker_state_destroy(struct tracker_state *state)
{
	if (!state)
		return;
	percpu_ref_exit(&state->inflight);
	if (state->da)
		diff_area_put(state->da);
	kfree(state);
}

/**
 * __tracker_state_swap() - publish a new state for a device's writes
 * @tracker: the tracker
 * @state: the new state
 *
 * Writes that pass the filter from now on see @state; the ones that saw
 * the old state may still be running: end it with tracker_state_kill(),
 * then wait for them with tracker_state_drain().
 *
 * Context: tracker_lock() held.
 * Return: the old state.
 */
struct tracker_state *__tracker_state_swap(struct tracker *tracker,
					   struct tracker_state *state)
{
	lockdep_assert_held(&tracker_mutex);
	return rcu_replace_pointer(tracker->state, state,
				   lockdep_is_held(&tracker_mutex));
}

/**
 * tracker_state_kill() - let a replaced state drain
 * @state: a state replaced by __tracker_state_swap()
 *
 * No RCU grace period is needed first: a write that loaded @state (under
 * rcu_read_lock(), before the swap) takes its reference within that read
 * section, and the kill's switch of @inflight to atomic mode waits for a
 * grace period of its own before it counts.  So several states can be
 * killed at once, and drained in one grace period.
 *
 * Context: any.
 */
void tracker_state_kill(struct tracker_state *state)
{
	percpu_ref_kill(&state->inflight);
}

/**
 * tracker_state_drain() - wait for the writes of a killed state, free it
 * @state: a state ended by tracker_state_kill()
 *
 * Returns when every write that passed the filter under @state has
 * completed (including those deferred for copies, so their copies must
 * be able to run, or copy-on-write be stopped).
 *
 * Context: process context, sleeps.
 */
void tracker_state_drain(struct tracker_state *state)
{
	wait_for_completion(&state->drained);
	tracker_state_destroy(state);
}

/**
 * tracker_bio_sector() - the first sector of a bio in its device's space
 * @bio: a bio; the remainder of a split bio of a partition comes back
 *	with its sector already in the whole disk's space (BIO_REMAPPED)
 *
 * Context: any.
 * Return: the sector, relative to bio->bi_bdev.
 */
sector_t tracker_bio_sector(struct bio *bio)
{
	sector_t sector = bio->bi_iter.bi_sector;

	if (bio_flagged(bio, BIO_REMAPPED) && bdev_is_partition(bio->bi_bdev))
		sector -= bio->bi_bdev->bd_start_sect;
	return sector;
}

/**
 * tracker_lock() - serialise with every other change of the trackers
 *
 * Context: process context, may sleep.
 */
void tracker_lock(void)
{
	mutex_lock(&tracker_mutex);
}

/**
 * tracker_unlock() - end of a section started with tracker_lock()
 */
void tracker_unlock(void)
{
	mutex_unlock(&tracker_mutex);
}

/**
 * __tracker_find() - the tracker of a device
 * @dev: device number
 *
 * Context: tracker_lock() held; the tracker stays valid until it is
 * released.
 * Return: the tracker or NULL.
 */
struct tracker *__tracker_find(dev_t dev)
{
	lockdep_assert_held(&tracker_mutex);
	return xa_load(&trackers, dev);
}

/**
 * __tracker_next() - iterate over the trackers in device-number order
 * @dev: in: the first device number to look at; out: the number of the
 *	tracker found
 *
 * Context: tracker_lock() held.
 * Return: the first tracker at or after *@dev, or NULL when none is left.
 */
struct tracker *__tracker_next(dev_t *dev)
{
	unsigned long index = *dev;
	struct tracker *tracker;

	lockdep_assert_held(&tracker_mutex);
	tracker = xa_find(&trackers, &index, U32_MAX, XA_PRESENT);
	if (tracker)
		*dev = index;
	return tracker;
}

bool tracker_any(void)
{
	return !xa_empty(&trackers);
}

static void tracker_resize_work(struct work_struct *work)
{
	struct tracker *tracker = container_of(work, struct tracker,
					       resize_work);
	struct cbt_map_info info;
	sector_t capacity;
	int ret;

	snapshot_lock();
	tracker_lock();
	capacity = bdev_nr_sectors(tracker->bdev.bdev);
	if (capacity == tracker->cbt_map->capacity || !capacity ||
	    xa_load(&trackers, tracker->dev) != tracker)
		goto out;
	pr_warn("device %u:%u changed capacity from %llu to %llu sectors: new CBT generation\n",
		MAJOR(tracker->dev), MINOR(tracker->dev),
		(unsigned long long)tracker->cbt_map->capacity,
		(unsigned long long)capacity);
	if (tracker->snapshot)
		__snapshot_device_resized(tracker->snapshot, tracker);
	ret = cbt_map_resize(tracker->cbt_map, capacity);
	if (ret) {
		/* Still a new generation: the next backup is full. */
		pr_err("cannot resize the CBT map of %u:%u: %d\n",
		       MAJOR(tracker->dev), MINOR(tracker->dev), ret);
		if (cbt_map_reset(tracker->cbt_map))
			goto out;
	}
	cbt_map_get_info(tracker->cbt_map, &info);
	blksnap_nl_notify_tracker_change(tracker->dev, &info);
out:
	tracker_unlock();
	snapshot_unlock();
}

/* The device's capacity is not the map's: a new generation, soon. */
static void tracker_check_capacity(struct tracker *tracker)
{
	if (unlikely(bdev_nr_sectors(tracker->bdev.bdev) !=
		     READ_ONCE(tracker->cbt_map->capacity)))
		queue_work(blksnap_wq, &tracker->resize_work);
}

static void tracker_free(struct tracker *tracker)
{
	tracker_state_destroy(rcu_dereference_protected(tracker->state, 1));
	cbt_map_destroy(tracker->cbt_map);
	if (tracker->bdev.bdev)
		blksnap_bdev_close(&tracker->bdev);
	kfree(tracker);
}

/**
 * tracker_attach() - start tracking the changes of a block device
 * @dev: device number of a whole disk or a partition
 * @block_size: CBT block size in bytes, a power of two within the UAPI
 *	limits, or 0 for the default for the device's capacity
 * @info: filled with the new map's metadata on success
 *
 * The tracker holds the device open (for reading, shared) and a reference
 * on the module, so the module cannot be unloaded while it tracks devices.
 *
 * Context: process context, may sleep; takes tracker_lock().
 * Return: 0; -EEXIST if the device is tracked; -ENXIO or -ENODEV if there
 * is no such device; -ENOMEDIUM if it has no capacity; -EOPNOTSUPP if it is
 * zoned (zone appends and resets would escape copy-on-write); -E2BIG if
 * the block size is too small for the device; -ENOMEM.
 */
int tracker_attach(dev_t dev, u32 block_size, struct cbt_map_info *info)
{
	struct tracker_state *state;
	struct tracker *tracker;
	sector_t capacity;
	dev_t whole;
	int ret;

	tracker_lock();
	if (__tracker_find(dev)) {
		ret = -EEXIST;
		goto out_unlock;
	}

	tracker = kzalloc(sizeof(*tracker), GFP_KERNEL);
	if (!tracker) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	tracker->dev = dev;
	INIT_WORK(&tracker->resize_work, tracker_resize_work);

	ret = blksnap_bdev_open(dev, false, &tracker->bdev);
	if (ret)
		goto out_free;

	if (bdev_is_zoned(tracker->bdev.bdev)) {
		pr_warn("cannot track %u:%u: zoned devices are not supported\n",
			MAJOR(dev), MINOR(dev));
		ret = -EOPNOTSUPP;
		goto out_free;
	}
	capacity = bdev_nr_sectors(tracker->bdev.bdev);
	if (!capacity) {
		ret = -ENOMEDIUM;
		goto out_free;
	}
	state = tracker_state_create(NULL);
	if (IS_ERR(state)) {
		ret = PTR_ERR(state);
		goto out_free;
	}
	RCU_INIT_POINTER(tracker->state, state);
	whole = bdev_whole(tracker->bdev.bdev)->bd_dev;
	if (bdev_is_partition(tracker->bdev.bdev)) {
		/* So that counting it below cannot fail. */
		ret = xa_reserve(&tracked_parts, whole, GFP_KERNEL);
		if (ret)
			goto out_free;
	}
	if (!block_size)
		block_size = cbt_map_default_block_size(capacity);
	tracker->cbt_map = cbt_map_create(capacity, block_size);
	if (IS_ERR(tracker->cbt_map)) {
		ret = PTR_ERR(tracker->cbt_map);
		tracker->cbt_map = NULL;
		goto out_free;
	}

	ret = xa_insert(&trackers, dev, tracker, GFP_KERNEL);
	if (ret)
		goto out_release;
	if (bdev_is_partition(tracker->bdev.bdev)) {
		void *n = xa_load(&tracked_parts, whole);

		xa_store(&tracked_parts, whole,
			 xa_mk_value(n ? xa_to_value(n) + 1 : 1), GFP_KERNEL);
	}

	__module_get(THIS_MODULE);
	blksnap_stat_add(BLKSNAP_STAT_TRACKERS, 1);
	cbt_map_get_info(tracker->cbt_map, info);
	tracker_unlock();
	pr_info("tracking device %u:%u, %u-byte blocks\n",
		MAJOR(dev), MINOR(dev), block_size);
	return 0;

out_release:
	if (bdev_is_partition(tracker->bdev.bdev))
		xa_release(&tracked_parts, whole);
out_free:
	tracker_free(tracker);
out_unlock:
	tracker_unlock();
	return ret;
}

/**
 * tracker_detach() - stop tracking a device and drop its map
 * @dev: device number
 *
 * Bios in the filter may still see the tracker until an RCU grace period
 * has passed; after one, the writes that passed the filter are waited for,
 * then the tracker is freed.
 *
 * Context: process context, may sleep; takes tracker_lock().
 * Return: 0, -ENOENT if the device is not tracked, -EBUSY if it is in a
 * snapshot.
 */
int tracker_detach(dev_t dev)
{
	struct tracker_state *state;
	struct tracker *tracker;

	tracker_lock();
	tracker = xa_load(&trackers, dev);
	if (tracker && tracker->snapshot) {
		tracker_unlock();
		return -EBUSY;
	}
	if (tracker) {
		xa_erase(&trackers, dev);
		if (bdev_is_partition(tracker->bdev.bdev)) {
			dev_t whole = bdev_whole(tracker->bdev.bdev)->bd_dev;
			unsigned long n = xa_to_value(xa_load(&tracked_parts,
							       whole));

			if (n > 1)
				xa_store(&tracked_parts, whole,
					 xa_mk_value(n - 1), GFP_KERNEL);
			else
				xa_erase(&tracked_parts, whole);
		}
	}
	tracker_unlock();
	if (!tracker)
		return -ENOENT;

	synchronize_rcu();
	cancel_work_sync(&tracker->resize_work);
	/* Unreachable now: the writes it holds only end. */
	state = rcu_replace_pointer(tracker->state, NULL, true);
	tracker_state_kill(state);
	tracker_state_drain(state);
	tracker_free(tracker);
	blksnap_stat_sub(BLKSNAP_STAT_TRACKERS, 1);
	pr_info("stopped tracking device %u:%u\n", MAJOR(dev), MINOR(dev));
	module_put(THIS_MODULE);
	return 0;
}

static bool tracker_bio_changes_data(struct bio *bio)
{
	switch (bio_op(bio)) {
	case REQ_OP_WRITE:
	case REQ_OP_DISCARD:
	case REQ_OP_SECURE_ERASE:
	case REQ_OP_WRITE_ZEROES:
		return bio_sectors(bio) != 0;
	default:
		return false;
	}
}

static void tracker_io_put_states(struct tracker_state **states)
{
	unsigned int i;

	for (i = 0; i < TRACKER_IO_STATES; i++)
		if (states[i])
			percpu_ref_put(&states[i]->inflight);
}

/*
 * A write held in place ends: its end_io and bi_private back, and it ends
 * again, for its submitter (bio_endio() is made for that: a chained
 * write's count reached zero the first time and is not looked at again).
 */
static void tracker_io_end(struct bio *bio)
{
	struct tracker_io *io = bio->bi_private;
	struct tracker_state *states[TRACKER_IO_STATES];

	memcpy(states, io->states, sizeof(states));
	bio->bi_end_io = io->end_io;
	bio->bi_private = io->private;
	tracker_io_free(io);
	bio_endio(bio);
	tracker_io_put_states(states);
}

/* A write held by a clone ends when its clone does. */
static void tracker_clone_end(struct bio *clone)
{
	struct tracker_io *io = clone->bi_private;
	struct tracker_state *states[TRACKER_IO_STATES];
	struct bio *orig = io->private;

	memcpy(states, io->states, sizeof(states));
	/* The first error wins, as for chained bios: @orig may have pieces. */
	if (clone->bi_status && !orig->bi_status)
		orig->bi_status = clone->bi_status;
	bio_put(clone);
	bio_endio(orig);
	tracker_io_put_states(states);
}

/*
 * The module's own bios (its copies and image I/O, the held writes) and
 * the remainders of their splits, which are the same bios: all end in this
 * module.  A caller's address would tell only the first entry.  A held
 * write comes back on the disk it was held for when it is the remainder of
 * a split there; on another disk, a stacked driver has sent it on to a
 * member as it was (md does, on 6.1, for an array without I/O statistics):
 * that is a new write of the member, to mark and copy for it.
 */
static bool tracker_bio_is_own(struct bio *bio)
{
	struct tracker_io *io;

	if (!bio->bi_end_io ||
	    !within_module((unsigned long)bio->bi_end_io, THIS_MODULE))
		return false;
	if (bio->bi_end_io != tracker_io_end &&
	    bio->bi_end_io != tracker_clone_end)
		return true;
	io = bio->bi_private;
	return io->disk == bio->bi_bdev->bd_disk;
}

/*
 * xa_load() for the bio path, which holds an RCU read lock already:
 * xa_load() takes one of its own (two calls with PREEMPT_RCU, for each
 * of a write's lookups).  A reserved entry reads as NULL, as there.
 */
static void *tracker_xa_load_rcu(struct xarray *xa, unsigned long index)
{
	XA_STATE(xas, xa, index);
	void *entry;

	do {
		entry = xas_load(&xas);
		if (xa_is_zero(entry))
			entry = NULL;
	} while (xas_retry(&xas, entry));
	return entry;
}

/*
 * Take a reference on the state of a tracker; RCU read lock held.  The
 * _rcu try uses the caller's read section, where percpu_ref_get() would
 * take one of its own (two calls with PREEMPT_RCU, on every write).  It
 * fails only for a state killed since this write loaded it (a take
 * replaced it): the kill's switch to atomic mode waits for this read
 * section, so the plain get still counts (see tracker_state_kill()).
 */
static struct tracker_state *tracker_state_get(struct tracker *tracker)
{
	struct tracker_state *state = rcu_dereference(tracker->state);

	if (unlikely(!percpu_ref_tryget_live_rcu(&state->inflight)))
		percpu_ref_get(&state->inflight);
	return state;
}

/* A tracked partition a whole-disk write touches; see tracker_mark_parts(). */
struct tracker_part_hit {
	struct tracker *tracker;
	sector_t start;		/* of the partition in the disk */
	sector_t from;		/* the first sector written, in the disk */
	sector_t len;		/* of the partition */
};

typedef void (*tracker_part_visit_fn)(const struct tracker_part_hit *hit,
				      void *data);

/*
 * Call @visit for each tracked partition of @disk that [@sector, @end)
 * touches, in the order of the partition table.  RCU read lock held.
 */
static void tracker_visit_parts(struct block_device *disk, sector_t sector,
				sector_t end, tracker_part_visit_fn visit,
				void *data)
{
	struct tracker_part_hit hit;
	struct block_device *part;
	unsigned long i;

	xa_for_each_start(&disk->bd_disk->part_tbl, i, part, 1) {
		hit.start = part->bd_start_sect;
		hit.len = bdev_nr_sectors(part);
		if (end <= hit.start || sector >= hit.start + hit.len)
			continue;
		hit.tracker = tracker_xa_load_rcu(&trackers, part->bd_dev);
		if (!hit.tracker)
			continue;
		hit.from = max(sector, hit.start);
		visit(&hit, data);
	}
}

/* Mark a partition's part of a write in its map, up to *@data (the end). */
static void tracker_mark_hit(const struct tracker_part_hit *hit, void *data)
{
	sector_t end = *(sector_t *)data;

	cbt_map_mark(hit->tracker->cbt_map, hit->from - hit->start,
		     min(end, hit->start + hit->len) - hit->from);
}

/* The first partitions by position, and how many were found. */
struct tracker_part_hits {
	/* Sorted by .from; one more than fits, to know where to cut. */
	struct tracker_part_hit v[TRACKER_IO_STATES + 1];
	unsigned int room;
	unsigned int found;
};

static void tracker_keep_hit(const struct tracker_part_hit *hit, void *data)
{
	struct tracker_part_hits *hits = data;
	unsigned int k;

	for (k = min(hits->found, hits->room + 1);
	     k && hits->v[k - 1].from > hit->from; k--)
		if (k <= hits->room)
			hits->v[k] = hits->v[k - 1];
	if (k <= hits->room)
		hits->v[k] = *hit;
	hits->found++;
}

/*
 * A write through a whole disk: hold the states of the tracked partitions
 * it touches in @states from index *@n on and mark it in their maps (in
 * their sector space).  When they do not all fit, *@count is cut at the
 * start of the first partition (by position) that does not, and only the
 * partitions before the cut are held and marked: the rest is another
 * piece.  One walk of the partition table, keeping the first ones by
 * position.  RCU read lock held.
 */
static void tracker_mark_parts(struct block_device *disk, sector_t sector,
			       sector_t *count, struct tracker_state **states,
			       unsigned int *n)
{
	struct tracker_part_hits hits = { .room = TRACKER_IO_STATES - *n };
	unsigned int lbs = bdev_logical_block_size(disk) >> SECTOR_SHIFT;
	sector_t end = sector + *count, cut;
	struct tracker_part_hit *hit;

	tracker_visit_parts(disk, sector, end, tracker_keep_hit, &hits);
	if (hits.found > hits.room) {
		cut = round_down(hits.v[hits.room].from, lbs);
		if (cut > sector)
			end = cut;
		else	/* Overlapping partitions: the rest marked, not held. */
			tracker_visit_parts(disk, sector, end,
					    tracker_mark_hit, &end);
		hits.found = hits.room;
	}
	*count = end - sector;

	for (hit = hits.v; hit < hits.v + hits.found; hit++) {
		if (hit->from >= end)	/* Overlapping partitions again. */
			continue;
		tracker_mark_hit(hit, &end);
		tracker_check_capacity(hit->tracker);
		states[(*n)++] = tracker_state_get(hit->tracker);
	}
}

/**
 * tracker_io_submit() - send a tracked write on to its device
 * @bio: a held write, in place or as its clone (every write
 *	diff_area_submit_bio() sees is one), which the copy-on-write of its
 *	current stage lets pass
 *
 * A write through a whole disk across two partitions, each in a
 * snapshot, goes through the copy-on-write of each in turn.
 *
 * Context: bio submission path or the copy workqueue; see
 * diff_area_submit_bio().
 */
void tracker_io_submit(struct bio *bio)
{
	struct tracker_io *io = bio->bi_private;
	struct tracker_state *state;

	while (++io->stage < TRACKER_IO_STATES) {
		state = io->states[io->stage];
		if (state && state->da && diff_area_submit_bio(state->da, bio))
			return;
	}
	submit_bio_noacct(bio);
}

/*
 * Hold the states @states[0..@n) until @bio completes: send it on in
 * place, or as a clone when no tracker_io is at hand at once.  Returns
 * true if @bio was taken over (submitted, or ended for REQ_NOWAIT), false
 * if the caller submits it unheld.
 */
static bool tracker_hold(struct bio *bio, struct tracker_state **states,
			 unsigned int n, gfp_t gfp)
{
	struct tracker_io *io;
	struct bio *held, *clone;
	unsigned int i;

	io = NULL;
	if (likely(READ_ONCE(hold_in_place)))
		io = tracker_io_alloc();
	if (likely(io)) {
		io->end_io = bio->bi_end_io;
		io->private = bio->bi_private;
		held = bio;
		held->bi_end_io = tracker_io_end;
	} else {
		clone = bio_alloc_clone(bio->bi_bdev, bio, gfp, &tracker_bioset);
		if (!clone)
			goto no_memory;
		blksnap_count(BLKSNAP_COUNTER_WRITES_HELD_BY_CLONE);
		io = container_of(clone, struct tracker_io, clone);
		io->end_io = NULL;
		io->private = bio;
		held = clone;
		held->bi_end_io = tracker_clone_end;
	}
	held->bi_private = io;
	io->disk = bio->bi_bdev->bd_disk;
	for (i = 0; i < TRACKER_IO_STATES; i++)
		io->states[i] = i < n ? states[i] : NULL;
	io->stage = -1;
	/* Polling would look for a cookie, which a deferred write has not. */
	held->bi_opf &= ~REQ_POLLED;

	tracker_io_submit(held);
	return true;

no_memory:
	for (i = 0; i < n; i++)
		percpu_ref_put(&states[i]->inflight);
	if (bio->bi_opf & REQ_NOWAIT) {
		bio_wouldblock_error(bio);
		return true;
	}
	/* Out of memory outside a task: marked, not held, not copied. */
	pr_err_ratelimited("no memory to hold a write of %pg\n", bio->bi_bdev);
	return false;
}

/**
 * tracker_submit_bio() - record the change a bio is about to make, copy
 * what it overwrites if the device is in a taken snapshot, and hold it
 * until it completes
 * @bio: a bio entering submit_bio_noacct()
 *
 * The bio is marked in the map of its device and, for a partition, in
 * the map of the whole disk (in the disk's sector space) when that is
 * tracked too; a bio of a whole disk, in the maps of the tracked
 * partitions it touches (each in its own space).  A bio that fails later
 * has been marked all the same: tracking errs on the side of copying too
 * much.  A disk and its partitions are never in snapshots at once; a write
 * through a whole disk across partitions in snapshots goes through the
 * copy-on-write of each in turn, split into pieces of at most
 * %TRACKER_IO_STATES partitions.  A write of a tracked device goes to it
 * as a clone that holds the states it was seen under until it completes:
 * the take and the destroy wait for them.
 *
 * Context: bio submission path; sleeps only to throttle writers and for
 * a clone (GFP_NOIO, from a mempool) in task context without REQ_NOWAIT.
 * Return: true if the bio was taken over (its clones submitted, deferred
 * for copy-on-write, or ended), false if the caller submits it (or what is
 * left of it after pieces were taken over) as it is.
 */
bool tracker_submit_bio(struct bio *bio)
{
	struct tracker_state *states[TRACKER_IO_STATES];
	struct block_device *bdev = bio->bi_bdev;
	struct tracker *tracker;
	struct bio *piece;
	sector_t sector, count, end;
	unsigned int n;
	gfp_t gfp;

	if (!tracker_bio_changes_data(bio) || tracker_bio_is_own(bio))
		return false;
	if (bio->bi_opf & REQ_NOWAIT)
		gfp = GFP_NOWAIT;
	else
		gfp = in_task() ? GFP_NOIO : GFP_ATOMIC;

again:
	sector = tracker_bio_sector(bio);
	count = bio_sectors(bio);
	n = 0;
	/* The state first: one that copies comes with the advanced number. */
	rcu_read_lock();
	tracker = tracker_xa_load_rcu(&trackers, bdev->bd_dev);
	if (tracker) {
		tracker_check_capacity(tracker);
		states[n++] = tracker_state_get(tracker);
	}
	if (bdev_is_partition(bdev)) {
		if (tracker)
			cbt_map_mark(tracker->cbt_map, sector, count);
		tracker = tracker_xa_load_rcu(&trackers,
					      bdev_whole(bdev)->bd_dev);
		if (tracker) {
			tracker_check_capacity(tracker);
			states[n++] = tracker_state_get(tracker);
			cbt_map_mark(tracker->cbt_map,
				     sector + bdev->bd_start_sect, count);
		}
	} else {
		/* No partition tracked anywhere, the usual case: no lookup. */
		if (!xa_empty(&tracked_parts) &&
		    tracker_xa_load_rcu(&tracked_parts, bdev->bd_dev))
			tracker_mark_parts(bdev, sector, &count, states, &n);
		if (tracker)
			cbt_map_mark(tracker->cbt_map, sector, count);
	}
	rcu_read_unlock();
	if (!n)
		return false;
	if (count == bio_sectors(bio))
		return tracker_hold(bio, states, n, gfp);

	/* Across more tracked partitions than a write holds: this piece. */
	piece = bio_split(bio, count, gfp, &tracker_bioset);
	if (!piece) {
		while (n)
			percpu_ref_put(&states[--n]->inflight);
		if (bio->bi_opf & REQ_NOWAIT) {
			bio_wouldblock_error(bio);
			return true;
		}
		/* As for a clone: the rest marked, not held, not copied. */
		pr_err_ratelimited("no memory to split a write of %pg\n", bdev);
		rcu_read_lock();
		tracker = tracker_xa_load_rcu(&trackers, bdev->bd_dev);
		if (tracker)
			cbt_map_mark(tracker->cbt_map, sector + count,
				     bio_sectors(bio) - count);
		end = sector + bio_sectors(bio);
		tracker_visit_parts(bdev, sector + count, end,
				    tracker_mark_hit, &end);
		rcu_read_unlock();
		return false;
	}
	bio_chain(piece, bio);
	if (!tracker_hold(piece, states, n, gfp))
		submit_bio_noacct(piece);
	goto again;
}
