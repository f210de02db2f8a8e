// SPDX-License-Identifier: GPL-2.0
/*
 * verify: qemu-img check and info of each image, then every recorded extent
 * read through qemu-nbd and compared with its SHA-256.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <libnbd.h>
#include <nettle/sha2.h>
#include <string.h>

#include "chain.h"
#include "nbdwrite.h"
#include "util.h"
#include "verify.h"

#define READ_MAX	(4u << 20)

static inline void json_object_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

/* qemu-img check; then qemu-img info: virtual size and backing file. */
static int check_image(const char *path, const struct chain_backup *b)
{
	_cleanup_(json_object_putp) struct json_object *info = NULL;
	_cleanup_(freep) char *out = NULL, *out2 = NULL;
	char *check[] = { "qemu-img", "check", "-q", "-f", "qcow2", (char *)path, NULL };
	char *inf[] = { "qemu-img", "info", "-f", "qcow2", "--output=json", (char *)path, NULL };
	struct json_object *v;
	const char *backing = NULL;
	int problems = 0, r;

	r = run_program(check, &out);
	if (r < 0)
		return r;
	/* 0: clean; 3: only leaked clusters (space, not data) */
	if (r == 3) {
		log_info("%s: qemu-img check finds leaked clusters (wasted space, no damage)", path);
	} else if (r != 0) {
		log_error("%s: DAMAGED: qemu-img check exits with %d%s", path, r,
			  r == 2 ? " (corrupted metadata)" : "");
		fputs(out, stderr);
		problems++;
	}
	r = run_program(inf, &out2);
	if (r < 0)
		return r;
	if (r != 0) {
		log_error("%s: DAMAGED: qemu-img info cannot open it or its backing chain", path);
		return problems + 1;
	}
	info = json_tokener_parse(out2);
	if (!info || !json_object_object_get_ex(info, "virtual-size", &v)) {
		log_error("%s: qemu-img info gives no virtual size", path);
		return problems + 1;
	}
	if ((uint64_t)json_object_get_int64(v) != b->device_size) {
		log_error("%s: DAMAGED: %" PRId64 " bytes, the manifest says %" PRIu64,
			  path, json_object_get_int64(v), b->device_size);
		problems++;
	}
	if (json_object_object_get_ex(info, "backing-filename", &v))
		backing = json_object_get_string(v);
	if ((backing == NULL) != (b->backing == NULL) ||
	    (backing && strcmp(backing, b->backing) != 0)) {
		log_error("%s: DAMAGED: its backing file is %s, the manifest says %s",
			  path, backing ? backing : "none", b->backing ? b->backing : "none");
		problems++;
	}
	return problems;
}

static int check_extents(const char *path, const struct chain_extent *v, size_t n)
{
	_cleanup_(nbd_handle_closep) struct nbd_handle *h = NULL;
	_cleanup_(freep) uint8_t *buf = malloc(READ_MAX);
	int problems = 0, r;

	if (!buf)
		return -ENOMEM;
	r = nbd_image_open_ro(path, &h);
	if (r < 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		const struct chain_extent *x = &v[i];
		struct sha256_ctx sha;
		uint8_t sum[SHA256_LEN];
		bool nonzero = false;
		char want[2 * SHA256_LEN + 1], got[2 * SHA256_LEN + 1];

		sha256_init(&sha);
		for (uint64_t pos = 0; pos < x->length;) {
			size_t n = MIN(x->length - pos, (uint64_t)READ_MAX);

			if (interrupted)
				return -EINTR;
			if (nbd_pread(h, buf, n, x->offset + pos, 0) < 0) {
				log_error("%s: DAMAGED: extent %" PRIu64 "+%" PRIu64 " cannot be read: %s",
					  path, x->offset, x->length, nbd_get_error());
				problems++;
				goto next;
			}
			if (x->zero)
				nonzero |= !(buf[0] == 0 && memcmp(buf, buf + 1, n - 1) == 0);
			else
				sha256_update(&sha, n, buf);
			pos += n;
		}
		if (x->zero && nonzero) {
			log_error("%s: DAMAGED: extent %" PRIu64 "+%" PRIu64 " (bytes %" PRIu64 "-%" PRIu64 ") should be all zero and is not",
				  path, x->offset, x->length, x->offset, x->offset + x->length - 1);
			problems++;
		} else if (!x->zero) {
			sha256_digest(&sha, SHA256_DIGEST_SIZE, sum);
			if (memcmp(sum, x->sha256, SHA256_LEN) != 0) {
				sha256_hex(sum, got);
				sha256_hex(x->sha256, want);
				log_error("%s: DAMAGED: extent %" PRIu64 "+%" PRIu64 " (bytes %" PRIu64 "-%" PRIu64 ") has SHA-256 %s, the manifest says %s",
					  path, x->offset, x->length, x->offset, x->offset + x->length - 1, got, want);
				problems++;
			}
		}
next:;
	}
	return problems;
}

int verify_chain(const char *dir, const struct chain *c)
{
	int problems = 0;

	for (size_t i = 0; i < c->n_backups; i++) {
		const struct chain_backup *b = &c->backups[i];
		_cleanup_(freep) char *path = NULL;
		int r, p = 0;

		if (asprintf(&path, "%s/%s", dir, b->image) < 0)
			return -ENOMEM;
		if (access(path, R_OK) < 0) {
			log_error_errno(-errno, "%s: DAMAGED: backup %u's image is missing: %m", path, b->number);
			problems++;
			continue;
		}
		r = check_image(path, b);
		if (r < 0)
			return r;
		p += r;
		if (r == 0) {
			_cleanup_(freep) struct chain_extent *v = NULL;
			size_t n;

			r = chain_backup_extents(dir, b, &v, &n);
			if (r == -ENOMEM)
				return r;
			r = r < 0 ? 1 : check_extents(path, v, n);	/* said why */
			if (r < 0)
				return r;
			p += r;
		}
		if (p == 0)
			printf("%s: backup %u intact (%zu extents, %" PRIu64 " bytes checked)\n",
			       path, b->number, b->n_extents, b->changed_bytes);
		problems += p;
	}
	return problems;
}
