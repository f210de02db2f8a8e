// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot images: one bio-based block device per device of a taken
 * snapshot, /dev/blksnap-image<N>, the same size and logical block size
 * as the original.  Its bios are served by a worker, since serving them
 * may read files and wait for copies.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-image: " fmt

#include <linux/blkdev.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
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
	spin_lock(&image->lock);
	bio_list_add(&image->queue, bio);
	spin_unlock(&image->lock);
	queue_work(snapimage_wq, &image->work);
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
		ret = bio_sectors(bio) ? diff_area_image_io(image->da, bio,
							    image->buf) : 0;
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
 * snapimage_init() - register the images' block major and workqueue
 *
 * Context: module init, may sleep.
 * Return: 0 or a negative errno.
 */
int snapimage_init(void)
{
	int ret;

	snapimage_wq = alloc_workqueue("blksnap-image",
				       WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!snapimage_wq)
		return -ENOMEM;
	ret = register_blkdev(0, SNAPIMAGE_NAME);
	if (ret < 0) {
		destroy_workqueue(snapimage_wq);
		return ret;
	}
	snapimage_major = ret;
	return 0;
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
	ida_destroy(&snapimage_ida);
}
