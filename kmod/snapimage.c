// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot images: one bio-based block device per device of a taken
 * snapshot, /dev/blksnap-image<N>, the same size and logical block size
 * as the original.  Reads are split into runs of chunks, each sent down as
 * a clone of the read: to the original for chunks never copied, to the
 * storage device for copied ones, many in flight; the read ends when its
 * last clone does.  Runs stored in files, and writes, are served by the
 * image's worker, since they read and write files and wait for copies.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-image: " fmt

#include <linux/blkdev.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>
#include "compat.h"
#include "diff_area.h"
#include "snapimage.h"
#include "snapshot.h"
#include "stats.h"

#define SNAPIMAGE_NAME "blksnap-image"

static int snapimage_major;
static DEFINE_IDA(snapimage_ida);
/* Serves the images' bios; separate from copies, which images wait for. */
static struct workqueue_struct *snapimage_wq;

/**
 * struct snapimage_io - a clone sent for a run of an image read
 * @image: the image (in flight: counted in &snapimage.inflight)
 * @orig: the image read; it ends when its last clone does
 * @map: the run, where it goes
 * @clone: the clone
 */
struct snapimage_io {
	struct snapimage *image;
	struct bio *orig;
	struct diff_area_map map;
	struct bio clone;
};

/*
 * The clones of the image reads.  One read may take several while the
 * clones it submitted wait on current->bio_list: the rescuer sends those
 * on when the pool runs dry.
 */
static struct bio_set snapimage_bioset;

static int snapimage_open(BLKSNAP_BDEV_OPEN_ARGS)
{
	struct snapimage *image = BLKSNAP_BDEV_OPEN_DISK->private_data;
	int ret = 0;

	spin_lock(&image->lock);
	if (image->dying)
		ret = -ENODEV;
	else
		image->open_count++;
	spin_unlock(&image->lock);
	return ret;
}

static void snapimage_release(BLKSNAP_BDEV_RELEASE_ARGS)
{
	struct snapimage *image = disk->private_data;

	spin_lock(&image->lock);
	image->open_count--;
	spin_unlock(&image->lock);
}

/* The end of a clone: the run's readers go, then the clone's part of the read. */
static void snapimage_io_end(struct bio *clone)
{
	struct snapimage_io *io = container_of(clone, struct snapimage_io,
					       clone);
	struct snapimage *image = io->image;
	blk_status_t status = clone->bi_status;
	struct bio *orig = io->orig;

	if (diff_area_image_unmap(image->da, &io->map) && !status)
		status = BLK_STS_IOERR;
	if (status && !orig->bi_status)
		orig->bi_status = status;
	bio_put(clone);
	bio_endio(orig);
	/* Last: the image may be freed as soon as the count falls to 0. */
	if (atomic_dec_and_test(&image->inflight))
		wake_up_var(&image->inflight);
}

/* Queue a bio for the worker. */
static void snapimage_queue(struct snapimage *image, struct bio *bio)
{
	spin_lock(&image->lock);
	bio_list_add(&image->queue, bio);
	spin_unlock(&image->lock);
	queue_work(snapimage_wq, &image->work);
}

/*
 * Send a read down in clones, one per run of chunks with one place to go;
 * the runs stored in files go to the worker.  The read ends with the last
 * clone, or with the first error of a run that could not be mapped.
 */
static void snapimage_read(struct snapimage *image, struct bio *bio)
{
	sector_t start = bio->bi_iter.bi_sector, end = bio_end_sector(bio);
	struct diff_area_map map;
	struct snapimage_io *io;
	struct bio *clone;
	sector_t sector;
	int ret;

	for (sector = start; sector < end; sector += map.count) {
		ret = diff_area_image_map(image->da, sector, end, &map);
		if (ret) {
			bio->bi_status = errno_to_blk_status(ret);
			break;
		}
		/* From the bio set with GFP_NOIO: never fails. */
		clone = bio_alloc_clone(map.bdev ?: bio->bi_bdev, bio, GFP_NOIO,
					&snapimage_bioset);
		io = container_of(clone, struct snapimage_io, clone);
		io->image = image;
		io->orig = bio;
		io->map = map;
		bio_trim(clone, sector - start, map.count);
		if (map.bdev)
			clone->bi_iter.bi_sector = map.sector;
		clone->bi_end_io = snapimage_io_end;
		clone->bi_private = NULL;
		/* Polling would look for the image's cookie, never set. */
		clone->bi_opf &= ~REQ_POLLED;
		atomic_inc(&image->inflight);
		bio_inc_remaining(bio);
		if (map.to == DIFF_AREA_MAP_SYNC)
			snapimage_queue(image, clone);
		else
			submit_bio_noacct(clone);
	}
	bio_endio(bio);
}

static void snapimage_submit_bio(struct bio *bio)
{
	struct snapimage *image = bio->bi_bdev->bd_disk->private_data;

	switch (bio_op(bio)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
		break;
	case REQ_OP_FLUSH:
		/*
		 * Nothing of an image survives a reboot: there is nothing
		 * to make durable (see diff_region_io()).
		 */
		bio_endio(bio);
		return;
	default:
		bio_io_error(bio);
		return;
	}
	if (bio->bi_opf & REQ_NOWAIT) {
		bio_wouldblock_error(bio);
		return;
	}
	if (!bio_sectors(bio)) {
		bio_endio(bio);
		return;
	}
	if (bio_op(bio) == REQ_OP_READ)
		snapimage_read(image, bio);
	else
		snapimage_queue(image, bio);
}

static const struct block_device_operations snapimage_fops = {
	.owner		= THIS_MODULE,
	.open		= snapimage_open,
	.release	= snapimage_release,
	.submit_bio	= snapimage_submit_bio,
};

static void snapimage_work(struct work_struct *work)
{
	struct snapimage *image = container_of(work, struct snapimage, work);
	unsigned int noio = memalloc_noio_save();
	struct bio *bio;
	int ret;

	for (;;) {
		spin_lock(&image->lock);
		bio = bio_list_pop(&image->queue);
		spin_unlock(&image->lock);
		if (!bio)
			break;
		ret = diff_area_image_io(image->da, bio, image->buf);
		bio->bi_status = errno_to_blk_status(ret);
		bio_endio(bio);
	}
	memalloc_noio_restore(noio);
}

/**
 * snapimage_create() - the image of a device, not visible yet
 * @da: the device's copy-on-write state; the image takes a reference
 * @lbs: logical block size of the original
 * @pbs: physical block size of the original
 *
 * Context: process context, may sleep.
 * Return: the image or an ERR_PTR.
 */
struct snapimage *snapimage_create(struct diff_area *da, unsigned int lbs,
				   unsigned int pbs)
{
	struct snapimage *image;
	struct gendisk *disk;
	int ret;

	image = kzalloc(sizeof(*image), GFP_KERNEL);
	if (!image)
		return ERR_PTR(-ENOMEM);
	image->buf = kvmalloc((size_t)1 << (da->chunk_shift + SECTOR_SHIFT),
			      GFP_KERNEL);
	if (!image->buf) {
		ret = -ENOMEM;
		goto out_free;
	}
	image->minor = ida_alloc_max(&snapimage_ida, MINORMASK, GFP_KERNEL);
	if (image->minor < 0) {
		ret = image->minor;
		goto out_buf;
	}
	disk = blksnap_alloc_disk(lbs, pbs);
	if (IS_ERR(disk)) {
		ret = PTR_ERR(disk);
		goto out_ida;
	}
	spin_lock_init(&image->lock);
	bio_list_init(&image->queue);
	atomic_set(&image->inflight, 0);
	INIT_WORK(&image->work, snapimage_work);
	disk->major = snapimage_major;
	disk->first_minor = image->minor;
	disk->minors = 1;
	disk->flags |= GENHD_FL_NO_PART;
	disk->fops = &snapimage_fops;
	disk->private_data = image;
	snprintf(disk->disk_name, DISK_NAME_LEN, SNAPIMAGE_NAME "%d",
		 image->minor);
	set_capacity(disk, da->capacity);
	image->disk = disk;
	diff_area_get(da);
	image->da = da;
	blksnap_stat_add(BLKSNAP_STAT_IMAGES, 1);
	return image;

out_ida:
	ida_free(&snapimage_ida, image->minor);
out_buf:
	kvfree(image->buf);
out_free:
	kfree(image);
	return ERR_PTR(ret);
}

/**
 * snapimage_add() - make the image visible
 * @image: the image
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno.
 */
int snapimage_add(struct snapimage *image)
{
	int ret = add_disk(image->disk);

	if (!ret)
		image->added = true;
	return ret;
}

/**
 * snapimage_claim() - forbid new opens, unless the image is open
 * @image: the image
 *
 * Context: any.
 * Return: 0 or -EBUSY if the image is open.
 */
int snapimage_claim(struct snapimage *image)
{
	int ret = 0;

	spin_lock(&image->lock);
	if (image->open_count)
		ret = -EBUSY;
	else
		image->dying = true;
	spin_unlock(&image->lock);
	return ret;
}

/**
 * snapimage_unclaim() - undo snapimage_claim()
 * @image: the image
 */
void snapimage_unclaim(struct snapimage *image)
{
	spin_lock(&image->lock);
	image->dying = false;
	spin_unlock(&image->lock);
}

/**
 * snapimage_destroy() - remove the image; it is not open
 * @image: the image
 *
 * Context: process context, may sleep.
 */
void snapimage_destroy(struct snapimage *image)
{
	if (image->added)
		del_gendisk(image->disk);
	/* The reads sent down hold the image, its diff area and storage. */
	wait_var_event(&image->inflight, !atomic_read(&image->inflight));
	flush_work(&image->work);
	put_disk(image->disk);
	diff_area_put(image->da);
	ida_free(&snapimage_ida, image->minor);
	kvfree(image->buf);
	kfree(image);
	blksnap_stat_sub(BLKSNAP_STAT_IMAGES, 1);
}

/**
 * snapimage_is_image() - whether a device number is a snapshot image's
 * @dev: the device number
 */
bool snapimage_is_image(dev_t dev)
{
	return MAJOR(dev) == snapimage_major;
}

/**
 * snapimage_init() - create the images' bio set and workqueue, register
 * their block major
 *
 * Context: module init, may sleep.
 * Return: 0 or a negative errno.
 */
int snapimage_init(void)
{
	int ret;

	ret = bioset_init(&snapimage_bioset, BIO_POOL_SIZE,
			  offsetof(struct snapimage_io, clone),
			  BIOSET_NEED_RESCUER);
	if (ret)
		return ret;
	snapimage_wq = alloc_workqueue("blksnap-image",
				       WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!snapimage_wq) {
		ret = -ENOMEM;
		goto out_bioset;
	}
	ret = register_blkdev(0, SNAPIMAGE_NAME);
	if (ret < 0)
		goto out_wq;
	snapimage_major = ret;
	return 0;

out_wq:
	destroy_workqueue(snapimage_wq);
out_bioset:
	bioset_exit(&snapimage_bioset);
	return ret;
}

/**
 * snapimage_exit() - unregister; every image is gone
 *
 * Context: module exit, may sleep.
 */
void snapimage_exit(void)
{
	unregister_blkdev(snapimage_major, SNAPIMAGE_NAME);
	destroy_workqueue(snapimage_wq);
	bioset_exit(&snapimage_bioset);
	ida_destroy(&snapimage_ida);
}
