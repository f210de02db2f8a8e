// SPDX-License-Identifier: GPL-2.0
/*
 * Difference storage: where a snapshot keeps the original data of the
 * chunks overwritten after the take.  It is made of ranges appended at any
 * time: sector ranges of block devices, or files that the module writes
 * through the VFS and that grow up to a limit.  Space is handed out in
 * order, one chunk at a time, and never given back while the snapshot
 * lives.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-storage: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/lockdep.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>
#include "diff_storage.h"
#include "stats.h"

/*
 * Every block range given to any snapshot, so that no two overlap.
 * Protected by diff_storage_all_lock.
 */
static LIST_HEAD(diff_storage_all);
static DEFINE_MUTEX(diff_storage_all_lock);

/**
 * diff_storage_init() - an empty difference storage
 * @ds: the storage
 * @low_free: low free space threshold in sectors
 *
 * Context: any.
 */
void diff_storage_init(struct diff_storage *ds, sector_t low_free)
{
	spin_lock_init(&ds->lock);
	INIT_LIST_HEAD(&ds->ranges);
	ds->cur = NULL;
	ds->cur_used = 0;
	ds->total = 0;
	ds->used = 0;
	ds->low_free = low_free;
	ds->low_notified = false;
	mt_init_flags(&ds->map, MT_FLAGS_USE_RCU);
}

/**
 * diff_storage_range_bdev() - a range of sectors of a block device
 * @dev: the device
 * @start: first sector
 * @count: number of sectors
 *
 * The device is opened for writing, shared.  The range is checked against
 * the device's capacity here and against the other ranges when appended.
 *
 * Context: process context, may sleep.
 * Return: the range, or ERR_PTR(-ENODEV) for no such device, -ERANGE for
 * a range past its end, -ENOMEM.
 */
struct diff_storage_range *diff_storage_range_bdev(dev_t dev, sector_t start,
						   sector_t count)
{
	struct diff_storage_range *range;
	int ret;

	range = kzalloc(sizeof(*range), GFP_KERNEL);
	if (!range)
		return ERR_PTR(-ENOMEM);
	INIT_LIST_HEAD(&range->link);
	INIT_LIST_HEAD(&range->all_link);
	ret = blksnap_bdev_open(dev, true, &range->bdev);
	if (ret) {
		kfree(range);
		return ERR_PTR(ret == -ENXIO ? -ENODEV : ret);
	}
	range->dev = dev;
	range->start = start;
	range->count = count;
	range->disk_start = start + get_start_sect(range->bdev.bdev);
	if (start >= bdev_nr_sectors(range->bdev.bdev) ||
	    count > bdev_nr_sectors(range->bdev.bdev) - start) {
		blksnap_bdev_close(&range->bdev);
		kfree(range);
		return ERR_PTR(-ERANGE);
	}
	blksnap_stat_add(BLKSNAP_STAT_STORAGE_RANGES, 1);
	return range;
}

/**
 * diff_storage_range_file() - a file as difference storage
 * @file: the file; the range takes over this reference
 * @limit: the largest size in sectors the module may grow it to
 *
 * A limit beyond what the storage's linear space can hold
 * (DIFF_STORAGE_POS_MAX / 4 sectors, 512 PiB) is cut to it.
 *
 * Context: process context, may sleep.
 * Return: the range, or ERR_PTR(-ENOMEM) (the file reference is then
 * dropped).
 */
struct diff_storage_range *diff_storage_range_file(struct file *file,
						   sector_t limit)
{
	struct diff_storage_range *range;

	range = kzalloc(sizeof(*range), GFP_KERNEL);
	if (!range) {
		fput(file);
		return ERR_PTR(-ENOMEM);
	}
	INIT_LIST_HEAD(&range->link);
	INIT_LIST_HEAD(&range->all_link);
	range->file = file;
	range->wb_err = filemap_sample_wb_err(file->f_mapping);
	range->count = min_t(sector_t, limit, DIFF_STORAGE_POS_MAX / 4);
	blksnap_stat_add(BLKSNAP_STAT_STORAGE_RANGES, 1);
	return range;
}

/**
 * diff_storage_range_free() - release a range not (or no longer) in use
 * @range: the range
 *
 * Context: process context, may sleep.
 */
void diff_storage_range_free(struct diff_storage_range *range)
{
	if (!list_empty(&range->all_link)) {
		mutex_lock(&diff_storage_all_lock);
		list_del(&range->all_link);
		mutex_unlock(&diff_storage_all_lock);
	}
	if (range->file)
		fput(range->file);
	else
		blksnap_bdev_close(&range->bdev);
	blksnap_stat_sub(BLKSNAP_STAT_STORAGE_RANGES, 1);
	kfree(range);
}

/* Two block ranges share sectors of a disk (through a partition or not). */
static bool diff_storage_overlap(const struct diff_storage_range *a,
				 const struct diff_storage_range *b)
{
	return bdev_whole(a->bdev.bdev) == bdev_whole(b->bdev.bdev) &&
	       a->disk_start < b->disk_start + b->count &&
	       b->disk_start < a->disk_start + a->count;
}

/**
 * diff_storage_append() - add ranges to a storage, all or none
 * @ds: the storage
 * @ranges: a list of new ranges (linked by &diff_storage_range.link);
 *	emptied on success
 * @bad: on -EBUSY, the position in @ranges of the range that overlaps
 *
 * Block ranges are compared in the sector space of their whole disks, so
 * a range of a partition and one of its disk that share sectors overlap.
 * Free space may still be low afterwards: diff_storage_claim_low() tells.
 *
 * Each range gets its place in the storage's linear space, after the
 * ranges appended before.
 *
 * Context: process context, may sleep.
 * Return: 0, or -EBUSY if a block range overlaps another one of this
 * request or of any snapshot, -EFBIG if the ranges do not fit in the
 * linear space, -ENOMEM; then nothing was added.
 */
int diff_storage_append(struct diff_storage *ds, struct list_head *ranges,
			int *bad)
{
	struct diff_storage_range *range, *other;
	sector_t added = 0, pos;
	unsigned long flags;
	int ret;

	*bad = -1;
	mutex_lock(&diff_storage_all_lock);
	list_for_each_entry(range, ranges, link) {
		++*bad;
		if (range->file)
			continue;
		list_for_each_entry(other, &diff_storage_all, all_link)
			if (diff_storage_overlap(range, other))
				goto busy;
		other = range;
		list_for_each_entry_continue(other, ranges, link)
			if (!other->file && diff_storage_overlap(range, other))
				goto busy;
	}
	/* Appends are serialised by diff_storage_all_lock: @total is stable. */
	pos = ds->total;
	list_for_each_entry(range, ranges, link) {
		ret = -EFBIG;
		if (range->count > DIFF_STORAGE_POS_MAX - pos)
			goto unmap;
		range->pos = pos;
		ret = mtree_store_range(&ds->map, pos, pos + range->count - 1,
					range, GFP_KERNEL);
		if (ret)
			goto unmap;
		pos += range->count;
	}
	list_for_each_entry(range, ranges, link) {
		if (!range->file)
			list_add_tail(&range->all_link, &diff_storage_all);
		added += range->count;
	}
	mutex_unlock(&diff_storage_all_lock);

	spin_lock_irqsave(&ds->lock, flags);
	list_splice_tail_init(ranges, &ds->ranges);
	ds->total += added;
	ds->low_notified = false;
	spin_unlock_irqrestore(&ds->lock, flags);
	return 0;

unmap:
	*bad = -1;
	list_for_each_entry(other, ranges, link) {
		if (other == range)
			break;
		mtree_erase(&ds->map, other->pos);
	}
	mutex_unlock(&diff_storage_all_lock);
	return ret;
busy:
	mutex_unlock(&diff_storage_all_lock);
	return -EBUSY;
}

/* A file system whose files live in memory: no device can recurse. */
static bool diff_storage_memory_fs(struct super_block *sb)
{
	return sb->s_magic == TMPFS_MAGIC || sb->s_magic == RAMFS_MAGIC;
}

/* Deep enough for any sane stack; each level holds a disk's open_mutex. */
#define DIFF_STORAGE_MAX_DEPTH	(MAX_LOCKDEP_SUBCLASSES - 1)

static int __diff_storage_walk(struct block_device *bdev, unsigned int depth,
			       diff_storage_visit_fn visit, void *data,
			       dev_t *where);

static int __diff_storage_walk_file(struct file *file, unsigned int depth,
				    diff_storage_visit_fn visit, void *data,
				    dev_t *where)
{
	struct super_block *sb = d_real_inode(file->f_path.dentry)->i_sb;

	if (sb->s_bdev)
		return __diff_storage_walk(sb->s_bdev, depth, visit, data,
					   where);
	if (diff_storage_memory_fs(sb))
		return 0;
	*where = sb->s_dev;
	return -EOPNOTSUPP;
}

static int __diff_storage_walk(struct block_device *bdev, unsigned int depth,
			       diff_storage_visit_fn visit, void *data,
			       dev_t *where)
{
	struct gendisk *disk = bdev->bd_disk;
	struct list_head *entry;
	struct file *backing;
	int ret = 0;

	*where = bdev->bd_dev;
	if (depth > DIFF_STORAGE_MAX_DEPTH)
		return -ELOOP;
	if (visit(bdev, depth, data))
		return -ELOOP;
	backing = blksnap_loop_backing_file(disk);
	if (backing)
		return __diff_storage_walk_file(backing, depth + 1, visit, data,
						where);
	mutex_lock_nested(&disk->open_mutex, depth);
	list_for_each(entry, &disk->slave_bdevs) {
		ret = __diff_storage_walk(blksnap_holder_disk_bdev(entry),
					  depth + 1, visit, data, where);
		if (ret)
			break;
	}
	mutex_unlock(&disk->open_mutex);
	return ret;
}

/**
 * diff_storage_walk() - visit a block device and every device under it
 * @bdev: the device, held open by the caller
 * @visit: called for @bdev (which tells a partition from its disk), and
 *	likewise for each device it is stacked on: the devices a stacking
 *	driver (dm, md) registered as its slaves, and for a loop device the
 *	device of its backing file's file system
 * @data: for @visit
 * @where: on error, the device at fault
 *
 * For storage that must not reach certain devices (a snapshot's): writes
 * to a stacked device end on the devices under it.  The slaves of a disk
 * are walked under its open_mutex (6.1 changes them under it; later
 * kernels under a mutex private to the block layer, so a table reload
 * racing with the walk is not excluded there).
 *
 * Context: process context, may sleep.
 * Return: 0; -ELOOP if @visit stopped the walk or the stack is deeper
 * than DIFF_STORAGE_MAX_DEPTH; -EOPNOTSUPP if a loop device's backing file
 * is on a file system without a block device that is not in memory (its
 * devices cannot be known).
 */
int diff_storage_walk(struct block_device *bdev, diff_storage_visit_fn visit,
		      void *data, dev_t *where)
{
	return __diff_storage_walk(bdev, 0, visit, data, where);
}

/**
 * diff_storage_walk_file() - visit the devices under a file
 * @file: the file
 * @visit: as for diff_storage_walk(), from the device of the file's file
 *	system (of the real file's, under overlayfs)
 * @data: for @visit
 * @where: on error, the device at fault (or the file system's s_dev)
 *
 * A file in memory (tmpfs, ramfs) has no device under it.
 *
 * Context: process context, may sleep.
 * Return: as diff_storage_walk(); -EOPNOTSUPP also for a file on a file
 * system without a block device (btrfs, FUSE, NFS...).
 */
int diff_storage_walk_file(struct file *file, diff_storage_visit_fn visit,
			   void *data, dev_t *where)
{
	return __diff_storage_walk_file(file, 0, visit, data, where);
}

/**
 * diff_storage_free() - release every range of a storage
 * @ds: the storage, no longer in use
 *
 * Context: process context, may sleep.
 */
void diff_storage_free(struct diff_storage *ds)
{
	struct diff_storage_range *range, *tmp;

	list_for_each_entry_safe(range, tmp, &ds->ranges, link) {
		list_del(&range->link);
		diff_storage_range_free(range);
	}
	mtree_destroy(&ds->map);
	ds->total = 0;
	ds->used = 0;
}

/**
 * diff_storage_alloc() - hand out contiguous space for chunks
 * @ds: the storage
 * @count: sectors wanted
 * @unit: sectors of a chunk; not more than the smallest range
 * @region: filled with where the space is: all of @count if the current
 *	range holds it, else as many whole units of it as it holds
 * @low: set when free space just fell under the threshold (once per
 *	append: the caller asks for more)
 *
 * The rest of a range too short for min(@count, @unit) is skipped.
 *
 * Context: any, does not sleep.
 * Return: 0 or -ENOSPC.
 */
int diff_storage_alloc(struct diff_storage *ds, sector_t count,
		       sector_t unit, struct diff_region *region, bool *low)
{
	struct diff_storage_range *range;
	sector_t least = min(count, unit), room;
	unsigned long flags;
	int ret = 0;

	*low = false;
	spin_lock_irqsave(&ds->lock, flags);
	range = ds->cur;
	if (!range) {
		range = list_first_entry_or_null(&ds->ranges,
						 struct diff_storage_range, link);
		ds->cur_used = 0;
	}
	/*
	 * Move on while the range is too short; the rest of a range left
	 * behind counts as used.  The last range stays current when it is
	 * full, so that an append later continues after it.
	 */
	while (range && range->count - ds->cur_used < least &&
	       !list_is_last(&range->link, &ds->ranges)) {
		ds->used += range->count - ds->cur_used;
		range = list_next_entry(range, link);
		ds->cur_used = 0;
	}
	ds->cur = range;
	if (!range || range->count - ds->cur_used < least) {
		ret = -ENOSPC;
		goto out;
	}
	room = range->count - ds->cur_used;
	if (room < count)
		count = round_down(room, unit);
	region->range = range;
	region->sector = range->start + ds->cur_used;
	region->count = count;
	ds->cur_used += count;
	ds->used += count;
	if (ds->total - ds->used < ds->low_free && !ds->low_notified) {
		ds->low_notified = true;
		*low = true;
	}
out:
	spin_unlock_irqrestore(&ds->lock, flags);
	return ret;
}

/**
 * diff_region_pos() - a stored chunk as one number
 * @region: a region handed out by diff_storage_alloc()
 *
 * Context: any.
 * Return: its first sector in the storage's linear space, less than
 * DIFF_STORAGE_POS_MAX (so it fits an xarray value).
 */
unsigned long diff_region_pos(const struct diff_region *region)
{
	struct diff_storage_range *range = region->range;

	return range->pos + (region->sector - range->start);
}

/**
 * diff_storage_region() - a stored chunk back from its number
 * @ds: the storage
 * @pos: what diff_region_pos() gave for the chunk's region
 * @count: the chunk's length in sectors
 * @region: filled with the region
 *
 * Context: any.
 * Return: 0, or -EIO if no range holds @pos (never for a number given by
 * diff_region_pos() for this storage).
 */
int diff_storage_region(struct diff_storage *ds, unsigned long pos,
			sector_t count, struct diff_region *region)
{
	struct diff_storage_range *range = mtree_load(&ds->map, pos);

	if (WARN_ON_ONCE(!range))
		return -EIO;
	region->range = range;
	region->sector = range->start + (pos - range->pos);
	region->count = count;
	return 0;
}

/**
 * diff_storage_claim_low() - whether to ask for more storage now
 * @ds: the storage
 *
 * True, once per append, when free space is under the threshold: the
 * caller then sends the low space event.
 *
 * Context: any.
 */
bool diff_storage_claim_low(struct diff_storage *ds)
{
	unsigned long flags;
	bool low = false;

	spin_lock_irqsave(&ds->lock, flags);
	if (ds->total - ds->used < ds->low_free && !ds->low_notified) {
		ds->low_notified = true;
		low = true;
	}
	spin_unlock_irqrestore(&ds->lock, flags);
	return low;
}

/**
 * diff_storage_usage() - how much storage there is and is used
 * @ds: the storage
 * @total: filled with the sectors appended
 * @used: filled with the sectors used
 *
 * Context: any.
 */
void diff_storage_usage(struct diff_storage *ds, sector_t *total,
			sector_t *used)
{
	unsigned long flags;

	spin_lock_irqsave(&ds->lock, flags);
	*total = ds->total;
	*used = ds->used;
	spin_unlock_irqrestore(&ds->lock, flags);
}

/*
 * Map @len bytes of @buf into @bio: physically contiguous memory
 * (kmalloc) as one multi-page bio_vec, however long, which the block
 * layer splits to the queue's limits; vmalloc memory (page aligned) a
 * page at a time.
 */
static bool diff_io_map(struct bio *bio, void *buf, size_t len)
{
	size_t off, n;

	if (!is_vmalloc_addr(buf))
		return bio_add_page(bio, virt_to_page(buf), len,
				    offset_in_page(buf)) == len;
	for (off = 0; off < len; off += n) {
		n = min_t(size_t, len - off, PAGE_SIZE);
		if (bio_add_page(bio, vmalloc_to_page(buf + off), n, 0) != n)
			return false;
	}
	return true;
}

/**
 * diff_io_bdev_submit() - send I/O between a buffer and a block device,
 * without waiting for it
 * @bdev: the device
 * @op: REQ_OP_READ or REQ_OP_WRITE
 * @sector: first sector on the device
 * @buf: the buffer (kmalloc or vmalloc memory, page aligned)
 * @count: number of sectors
 * @end_io: ends each bio (one for a kmalloc buffer, one per BIO_MAX_VECS
 *	pages of a vmalloc one); it puts the bio
 * @private: the bios' bi_private
 * @inflight: incremented for each bio before it is submitted; the caller
 *	holds a count of its own while it submits, so that @end_io cannot
 *	see it fall to zero before the last bio is sent
 *
 * The bios are submitted from this module, so the filter lets them
 * through.
 *
 * Context: process context in a NOIO scope, may sleep (bio allocation,
 * request allocation); interrupts on.
 * Return: 0, or -EIO if @buf cannot be mapped: the bios already sent go
 * on, nothing more is sent.
 */
int diff_io_bdev_submit(struct block_device *bdev, enum req_op op,
			sector_t sector, void *buf, sector_t count,
			bio_end_io_t *end_io, void *private, atomic_t *inflight)
{
	size_t len = (size_t)count << SECTOR_SHIFT, done, part;
	bool contig = !is_vmalloc_addr(buf);
	blk_opf_t opf = op;
	struct bio *bio;

	if (op == REQ_OP_WRITE)
		opf |= REQ_SYNC;
	for (done = 0; done < len; done += part) {
		part = contig ? len : min_t(size_t, len - done,
					    (size_t)BIO_MAX_VECS << PAGE_SHIFT);
		bio = bio_alloc(bdev, contig ? 1 : DIV_ROUND_UP(part, PAGE_SIZE),
				opf, GFP_NOIO);
		bio->bi_iter.bi_sector = sector + (done >> SECTOR_SHIFT);
		if (!diff_io_map(bio, buf + done, part)) {
			bio_put(bio);
			return -EIO;
		}
		bio->bi_private = private;
		bio->bi_end_io = end_io;
		atomic_inc(inflight);
		submit_bio_noacct(bio);
	}
	return 0;
}

/* A synchronous diff_io_bdev(): its bios all in flight at once. */
struct diff_io_sync {
	struct completion done;
	atomic_t inflight;
	int error;
};

static void diff_io_sync_end(struct bio *bio)
{
	struct diff_io_sync *io = bio->bi_private;

	if (bio->bi_status)
		cmpxchg(&io->error, 0, blk_status_to_errno(bio->bi_status));
	bio_put(bio);
	if (atomic_dec_and_test(&io->inflight))
		complete(&io->done);
}

/**
 * diff_io_bdev() - synchronous I/O between a buffer and a block device
 * @bdev: the device
 * @op: REQ_OP_READ, or REQ_OP_WRITE (complete, not durable, on return:
 *	see diff_region_io())
 * @sector: first sector on the device
 * @buf: the buffer (kmalloc or vmalloc memory, page aligned)
 * @count: number of sectors
 *
 * See diff_io_bdev_submit().
 *
 * Context: process context in a NOIO scope, may sleep.
 * Return: 0 or a negative errno.
 */
int diff_io_bdev(struct block_device *bdev, enum req_op op, sector_t sector,
		 void *buf, sector_t count)
{
	struct diff_io_sync io = { .inflight = ATOMIC_INIT(1) };
	int ret;

	init_completion(&io.done);
	ret = diff_io_bdev_submit(bdev, op, sector, buf, count,
				  diff_io_sync_end, &io, &io.inflight);
	if (!atomic_dec_and_test(&io.inflight))
		wait_for_completion_io(&io.done);
	return ret ?: io.error;
}

static int diff_io_file(struct diff_storage_range *range, enum req_op op,
			loff_t pos, void *buf, size_t len)
{
	struct kvec kvec = { .iov_base = buf, .iov_len = len };
	struct file *file = range->file;
	struct iov_iter iter;
	ssize_t done;

	/*
	 * Copies stay in the page cache until written back: a writeback
	 * that failed may have lost one, so the storage is no longer
	 * trusted (the snapshot is corrupted).
	 */
	if (filemap_check_wb_err(file->f_mapping, range->wb_err))
		return -EIO;
	if (op == REQ_OP_READ) {
		done = kernel_read(file, buf, len, &pos);
		/* Never written: a hole past the end reads as zeros. */
		if (done >= 0 && done < len)
			memset(buf + done, 0, len - done);
		return done < 0 ? done : 0;
	}
	iov_iter_kvec(&iter, ITER_SOURCE, &kvec, 1, len);
	done = blksnap_vfs_iter_write(file, &iter, &pos, 0);
	if (done < 0)
		return done;
	return done == len ? 0 : -EIO;
}

/**
 * diff_region_io() - synchronous I/O between a buffer and a stored chunk
 * @region: the chunk's place in the storage
 * @op: REQ_OP_READ or REQ_OP_WRITE
 * @buf: the buffer
 * @offset: first sector within the region
 * @count: number of sectors
 *
 * A write is complete on return: a read of the region gets its data
 * (from the device, its cache, or the file's page cache).  It is not
 * durable (no FUA, no RWF_DSYNC), and need not be: the snapshot does not
 * survive a reboot, so the copy only has to be readable before the write
 * to the original that waited for it goes down.  For the same reason a
 * flush (REQ_PREFLUSH) of the original needs nothing from the storage:
 * after a crash the copies it could make durable belong to no snapshot.
 *
 * Context: process context, may sleep; the caller runs in a NOIO scope.
 * Return: 0 or a negative errno (-EIO for a file whose writeback failed
 * since it was appended).
 */
int diff_region_io(const struct diff_region *region, enum req_op op,
		   void *buf, sector_t offset, sector_t count)
{
	struct diff_storage_range *range = region->range;
	sector_t sector = region->sector + offset;

	if (range->file)
		return diff_io_file(range, op, (loff_t)sector << SECTOR_SHIFT,
				    buf, count << SECTOR_SHIFT);
	return diff_io_bdev(range->bdev.bdev, op, sector, buf, count);
}
