// SPDX-License-Identifier: GPL-2.0
/*
 * restore: qemu-img convert of one point of a chain to a device or a file.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "restore.h"
#include "util.h"

static int sync_path(const char *path)
{
	_cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return log_error_errno(-errno, "cannot sync %s: %m", path);
	return 0;
}

static int convert(const char *image, const char *target, bool existing)
{
	char *argv[16] = { "qemu-img", "convert", "-f", "qcow2", "-O", "raw", "-t", "writeback" };
	size_t n = 8;
	int r;

	if (existing)
		argv[n++] = "-n";	/* write into the device, never create it */
	if (isatty(STDERR_FILENO) == 1)
		argv[n++] = "-p";
	argv[n++] = (char *)image;
	argv[n++] = (char *)target;
	r = run_program(argv, NULL);
	if (r < 0)
		return r;
	if (r != 0)
		return log_error_errno(-EIO, "qemu-img convert %s to %s failed (exit status %d)", image, target, r);
	return 0;
}

int restore_run(const char *dir, const struct chain *c, long number, const char *target)
{
	_cleanup_(freep) char *image = NULL, *tmp = NULL;
	const struct chain_backup *b;
	char s1[16];
	struct stat st;
	int r;

	if (c->n_backups == 0)
		return log_error_errno(-ENOENT, "%s holds no backup", dir);
	b = number < 0 ? chain_last(c) : chain_find(c, number);
	if (!b)
		return log_error_errno(-ENOENT, "%s has no backup %ld: its backups are 0 to %u",
				       dir, number, chain_last(c)->number);
	if (asprintf(&image, "%s/%s", dir, b->image) < 0)
		return -ENOMEM;
	if (access(image, R_OK) < 0)
		return log_error_errno(-errno, "cannot read %s: %m", image);

	if (stat(target, &st) == 0 && S_ISBLK(st.st_mode)) {
		_cleanup_(closep) int fd = open(target, O_WRONLY | O_CLOEXEC);
		uint64_t size;

		if (fd < 0)
			return log_error_errno(-errno, "cannot open %s: %m", target);
		if (ioctl(fd, BLKGETSIZE64, &size) < 0)
			return log_error_errno(-errno, "cannot get the size of %s: %m", target);
		if (size < b->device_size)
			return log_error_errno(-ENOSPC, "%s has %" PRIu64 " bytes, backup %u needs %" PRIu64,
					       target, size, b->number, b->device_size);
		if (size > b->device_size)
			log_info("%s is larger than the backup: its bytes after %" PRIu64 " stay as they are",
				 target, b->device_size);
		log_info("restoring backup %u of %s (%s, %s) to %s", b->number, c->device,
			 format_bytes(b->device_size, s1, sizeof(s1)), b->full ? "full" : "incremental", target);
		r = convert(image, target, true);
		if (r < 0)
			return r;
		return sync_path(target);
	}
	if (stat(target, &st) == 0 && !S_ISREG(st.st_mode))
		return log_error_errno(-EINVAL, "%s is neither a block device nor a regular file", target);

	/* A file: written beside it, renamed over it once complete. */
	if (asprintf(&tmp, "%s.partial", target) < 0)
		return -ENOMEM;
	log_info("restoring backup %u of %s (%s) to %s", b->number, c->device,
		 format_bytes(b->device_size, s1, sizeof(s1)), target);
	r = convert(image, tmp, false);
	if (r >= 0)
		r = sync_path(tmp);
	if (r >= 0 && rename(tmp, target) < 0)
		r = log_error_errno(-errno, "cannot rename %s to %s: %m", tmp, target);
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	return 0;
}
