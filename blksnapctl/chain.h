/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The chain of one device's backups and its manifest, DIR/<device>/chain.json:
 *
 *   { "format": "blksnapctl-chain", "version": 2, "device": "vdb",
 *     "backups": [ { "number": 0, "image": "0000.qcow2", "backing": null,
 *                    "kind": "full", "reason": "first backup",
 *                    "time": "2026-11-29T18:30:00Z", "time_unix": 1795890600,
 *                    "device_size": 67108864,
 *                    "generation_id": "UUID", "snap_number": 1,
 *                    "changed_bytes": 67108864,
 *                    "checksum": "sha256",
 *                    "extents_file": "0000.extents", "extents_count": 64,
 *                    "extents_sha256": "hex sha256 of that file" },
 *                  ... ] }
 *
 * and beside it, written once with its image, each backup's extents:
 *
 *   0000.extents: { "format": "blksnapctl-extents", "version": 1,
 *                   "image": "0000.qcow2",
 *                   "extents": [ [offset, length, "hex sha256" | "zero"], ... ] }
 *
 * Every extent was written to the image (a full backup: the whole device,
 * all-zero extents left unallocated); its checksum is the SHA-256 (FIPS
 * 180-4, by GNU Nettle) of its bytes, or "zero" when they are all zero.
 * The manifest stays small (a backup of scattered 4 KiB blocks has
 * thousands of extents, and the manifest is read and rewritten by every
 * backup); the extents are read by verify only.  A version 1 manifest held
 * each backup's "extents" list inline instead of the three extents_ keys;
 * such backups are read, and kept so, as they are.  Backup N is image N
 * with its backing files; "backing" names the previous image relative to
 * the directory.  The manifest is replaced atomically (temp file, fsync,
 * rename, fsync of the directory) after the image and extents file it
 * names are complete.
 */
#ifndef BLKSNAPCTL_CHAIN_H
#define BLKSNAPCTL_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAIN_FILE	"chain.json"
#define CHAIN_FORMAT	"blksnapctl-chain"
#define CHAIN_VERSION	2
#define EXTENTS_FORMAT	"blksnapctl-extents"
#define EXTENTS_VERSION	1
#define SHA256_LEN	32
#define UUID_TEXT_LEN	36

struct chain_extent {
	uint64_t offset;
	uint64_t length;
	bool zero;
	uint8_t sha256[SHA256_LEN];
};

struct chain_backup {
	unsigned number;
	char *image;
	char *backing;		/* NULL for a full backup */
	bool full;
	char *reason;		/* why full (or "" for an incremental) */
	int64_t time;		/* seconds since the epoch, UTC */
	uint64_t device_size;
	char generation_id[UUID_TEXT_LEN + 1];
	uint32_t snap_number;
	uint64_t changed_bytes;
	/* In a file of the directory (NULL: inline in a version 1 manifest). */
	char *extents_file;
	uint8_t extents_sha256[SHA256_LEN];	/* of that file's bytes */
	/* The extents: loaded with an inline manifest or kept by the backup
	 * that made them, else NULL (chain_backup_extents() reads them). */
	struct chain_extent *extents;
	size_t n_extents;
};

struct chain {
	char *device;
	struct chain_backup *backups;
	size_t n_backups;
};

void chain_backup_done(struct chain_backup *b);
void chain_free(struct chain *c);
static inline void chain_freep(struct chain **c)
{
	if (*c)
		chain_free(*c);
}

/*
 * Load dirfd/chain.json; a directory without one is an empty chain of
 * device.  Return: 0, -EINVAL (the manifest is not one we can read, said
 * why), -errno; *ret untouched on failure.
 */
int chain_load(int dirfd, const char *dir, const char *device, struct chain **ret);

/* The last backup, or NULL. */
const struct chain_backup *chain_last(const struct chain *c);
/* Backup number n, or NULL. */
const struct chain_backup *chain_find(const struct chain *c, unsigned n);

/*
 * Append b (taking its contents) and write the manifest atomically.  On
 * failure the file and *c are as before and b is left to its owner.
 */
int chain_append_save(struct chain *c, int dirfd, const char *dir, struct chain_backup *b);

/* "0000.qcow2" for n = 0. */
int chain_image_name(unsigned n, char **ret);
/* "0000.extents" for n = 0. */
int chain_extents_name(unsigned n, char **ret);

/*
 * Write the extents file of image (n extents of v) as dirfd/file, synced;
 * its SHA-256 in sha256.  Return: 0 or -errno (said why; file removed).
 */
int chain_extents_write(int dirfd, const char *dir, const char *file, const char *image,
			const struct chain_extent *v, size_t n, uint8_t sha256[SHA256_LEN]);

/*
 * b's extents, in a new array: its own, or read from its extents file in
 * dir and checked against the manifest (checksum of the file, count, sum
 * of lengths).  Return: 0, -ENOENT (missing) or -EBADMSG (damaged), said
 * why; -ENOMEM.
 */
int chain_backup_extents(const char *dir, const struct chain_backup *b,
			 struct chain_extent **ret, size_t *ret_n);

bool uuid_text_valid(const char *s);
void sha256_hex(const uint8_t sum[SHA256_LEN], char hex[2 * SHA256_LEN + 1]);

/*
 * The chain directories DIR stands for: DIR itself when it holds a
 * chain.json, else its subdirectories that do (a backup root), sorted.
 * Return: the count (0: none), or -errno (said why).
 */
int chain_dirs(const char *dir, char ***ret);

/* Open and load the chain in dir (its device name is the directory's). */
int chain_open(const char *dir, int *ret_dirfd, struct chain **ret);

#endif /* BLKSNAPCTL_CHAIN_H */
