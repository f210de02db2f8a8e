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
#include <linux/fs.h>
#include <uapi/linux/loop.h>
#include <linux/major.h>
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

/*
 * The devices a stacking driver (dm, md) registered under a disk with
 * bd_link_disk_holder(): the entries of gendisk.slave_bdevs, whose type is
 * private to block/holder.c.  Its layout as in Debian's 6.1 and 6.12
 * sources: 6.1 keeps the device itself, later kernels the device's
 * "holders" directory, whose parent is the device's own kobject.
 */
struct blksnap_holder_disk {
	struct list_head list;
#ifdef BLKSNAP_HAVE_BDEV_FILE
	struct kobject *holder_dir;
#else
	struct block_device *bdev;
#endif
	int refcnt;
};

static inline struct block_device *
blksnap_holder_disk_bdev(struct list_head *entry)
{
	struct blksnap_holder_disk *holder =
		list_entry(entry, struct blksnap_holder_disk, list);

#ifdef BLKSNAP_HAVE_BDEV_FILE
	return dev_to_bdev(kobj_to_dev(holder->holder_dir->parent));
#else
	return holder->bdev;
#endif
}

/*
 * The backing file of a loop device: struct loop_device is private to
 * drivers/block/loop.c; its first fields are the same in 6.1 and 6.12.
 * Stable while the loop device is open (a clear is deferred to the last
 * close).
 */
struct blksnap_loop_head {
	int lo_number;
	loff_t lo_offset;
	loff_t lo_sizelimit;
	int lo_flags;
	char lo_file_name[LO_NAME_SIZE];
	struct file *lo_backing_file;
};

static inline struct file *blksnap_loop_backing_file(struct gendisk *disk)
{
	struct blksnap_loop_head *lo = disk->private_data;

	if (disk->major != LOOP_MAJOR || !lo)
		return NULL;
	return READ_ONCE(lo->lo_backing_file);
}

/*
 * An extack message about an attribute that names a device: @fmt with the
 * device's MAJ:MIN where the kernel can format one (6.2 on; the result
 * must fit in NETLINK_MAX_FMTMSG_LEN, 80 bytes), the fixed @msg otherwise.
 */
#ifdef NL_SET_ERR_MSG_ATTR_FMT
#define BLKSNAP_NL_ERR_ATTR_DEV(extack, attr, dev, msg, fmt)		\
	do {								\
		dev_t __dev = (dev);					\
									\
		NL_SET_ERR_MSG_ATTR_FMT(extack, attr, fmt " %u:%u",	\
					MAJOR(__dev), MINOR(__dev));	\
	} while (0)
#else
#define BLKSNAP_NL_ERR_ATTR_DEV(extack, attr, dev, msg, fmt)		\
	NL_SET_ERR_MSG_ATTR(extack, attr, msg)
#endif

/*
 * Write to a file from the kernel with the file system's write access
 * held, so that a frozen file system is not modified (the write waits for
 * the thaw): 6.7 moved file_start_write() into vfs_iter_write() (and
 * added linux/backing-file.h, which Kbuild looks for).
 */
static inline ssize_t blksnap_vfs_iter_write(struct file *file,
					     struct iov_iter *iter,
					     loff_t *pos, rwf_t flags)
{
#ifndef BLKSNAP_HAVE_ITER_WRITE_START
	ssize_t ret;

	file_start_write(file);
	ret = vfs_iter_write(file, iter, pos, flags);
	file_end_write(file);
	return ret;
#else
	return vfs_iter_write(file, iter, pos, flags);
#endif
}

#endif /* __BLKSNAP_COMPAT_H */
