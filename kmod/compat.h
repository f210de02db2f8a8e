/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The differences between the kernel APIs that blksnap builds against
 * (Debian 12: 6.1 and 6.12) live here and nowhere else.  Kbuild finds
 * which API the kernel has (BLKSNAP_HAVE_* defines) by looking at its
 * headers, so no version numbers are compared.
 */
#ifndef __BLKSNAP_COMPAT_H
#define __BLKSNAP_COMPAT_H

#include <linux/blkdev.h>
#include <net/genetlink.h>

/**
 * struct blksnap_bdev - an open reference to a block device
 * @bdev: the device
 * @handle: what the kernel's open call returned, for the matching close
 * @mode: how the device was opened, for the matching close
 */
struct blksnap_bdev {
	struct block_device *bdev;
#ifdef BLKSNAP_HAVE_BDEV_FILE
	struct file *handle;
#else
	fmode_t mode;
#endif
};

/**
 * blksnap_bdev_open() - open a block device by number, shared
 * @dev: device number
 * @write: open for writing too
 * @ref: filled with the open reference on success
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno (-ENXIO, -ENODEV: no such device).
 */
static inline int blksnap_bdev_open(dev_t dev, bool write,
				    struct blksnap_bdev *ref)
{
#ifdef BLKSNAP_HAVE_BDEV_FILE
	blk_mode_t mode = BLK_OPEN_READ | (write ? BLK_OPEN_WRITE : 0);
	struct file *file = bdev_file_open_by_dev(dev, mode, NULL, NULL);

	if (IS_ERR(file))
		return PTR_ERR(file);
	ref->handle = file;
	ref->bdev = file_bdev(file);
#else
	fmode_t mode = FMODE_READ | (write ? FMODE_WRITE : 0);
	struct block_device *bdev = blkdev_get_by_dev(dev, mode, NULL);

	if (IS_ERR(bdev))
		return PTR_ERR(bdev);
	ref->bdev = bdev;
	ref->mode = mode;
#endif
	return 0;
}

/**
 * blksnap_bdev_close() - drop a reference taken by blksnap_bdev_open()
 * @ref: the reference
 *
 * Context: process context, may sleep.
 */
static inline void blksnap_bdev_close(struct blksnap_bdev *ref)
{
#ifdef BLKSNAP_HAVE_BDEV_FILE
	fput(ref->handle);
#else
	blkdev_put(ref->bdev, ref->mode);
#endif
	ref->bdev = NULL;
}

/* The attributes of a dump request, parsed by the genetlink core. */
#ifdef BLKSNAP_HAVE_GENL_INFO_DUMP
#define blksnap_dump_attrs(cb)	(genl_info_dump(cb)->attrs)
#else
#define blksnap_dump_attrs(cb)	(genl_dumpit_info(cb)->attrs)
#endif

/* Redirect a function hooked through ftrace (renamed in 6.8). */
#ifdef BLKSNAP_HAVE_FTRACE_REGS_SET_IP
#define blksnap_ftrace_set_ip(fregs, ip) \
	ftrace_regs_set_instruction_pointer(fregs, ip)
#else
#define blksnap_ftrace_set_ip(fregs, ip) \
	ftrace_instruction_pointer_set(fregs, ip)
#endif

/* Only root may listen to the events group, where the kernel can say so. */
#ifdef GENL_MCAST_CAP_SYS_ADMIN
#define BLKSNAP_MCGRP_FLAGS	GENL_MCAST_CAP_SYS_ADMIN
#else
#define BLKSNAP_MCGRP_FLAGS	0
#endif

/* Freeze and thaw the file system on a device (renamed in 6.8). */
static inline int blksnap_bdev_freeze(struct block_device *bdev)
{
#ifdef BLKSNAP_HAVE_BDEV_FREEZE
	return bdev_freeze(bdev);
#else
	return freeze_bdev(bdev);
#endif
}

static inline void blksnap_bdev_thaw(struct block_device *bdev)
{
#ifdef BLKSNAP_HAVE_BDEV_FREEZE
	bdev_thaw(bdev);
#else
	thaw_bdev(bdev);
#endif
}

/**
 * blksnap_alloc_disk() - a bio-based gendisk with the given block sizes
 * @lbs: logical block size
 * @pbs: physical block size
 *
 * Context: process context, may sleep.
 * Return: the disk or an ERR_PTR.
 */
static inline struct gendisk *blksnap_alloc_disk(unsigned int lbs,
						 unsigned int pbs)
{
	struct gendisk *disk;
#ifdef BLKSNAP_HAVE_BDEV_FILE
	struct queue_limits lim = {
		.logical_block_size = lbs,
		.physical_block_size = pbs,
	};

	disk = blk_alloc_disk(&lim, NUMA_NO_NODE);
#else
	disk = blk_alloc_disk(NUMA_NO_NODE);
	if (!disk)
		return ERR_PTR(-ENOMEM);
	blk_queue_logical_block_size(disk->queue, lbs);
	blk_queue_physical_block_size(disk->queue, pbs);
#endif
	return disk;
}

/* The open and release methods of a block device (their types changed). */
#ifdef BLKSNAP_HAVE_BDEV_FILE
#define BLKSNAP_BDEV_OPEN_ARGS		struct gendisk *disk, blk_mode_t mode
#define BLKSNAP_BDEV_OPEN_DISK		disk
#define BLKSNAP_BDEV_RELEASE_ARGS	struct gendisk *disk
#else
#define BLKSNAP_BDEV_OPEN_ARGS		struct block_device *bdev, fmode_t mode
#define BLKSNAP_BDEV_OPEN_DISK		(bdev->bd_disk)
#define BLKSNAP_BDEV_RELEASE_ARGS	struct gendisk *disk, fmode_t mode
#endif

#endif /* __BLKSNAP_COMPAT_H */
