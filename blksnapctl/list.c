// SPDX-License-Identifier: GPL-2.0
/*
 * list: one line per backup with its time, kind, sizes and generation.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chain.h"
#include "list.h"
#include "util.h"

static inline void json_object_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

/* Bytes the image file takes on disk, 0 when it is missing. */
static uint64_t image_bytes(int dirfd, const char *image)
{
	struct stat st;

	if (fstatat(dirfd, image, &st, 0) < 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

int list_chains(char **dirs, bool json)
{
	_cleanup_(json_object_putp) struct json_object *root = json ? json_object_new_array() : NULL;

	if (json && !root)
		return -ENOMEM;
	for (char **d = dirs; *d; d++) {
		_cleanup_(chain_freep) struct chain *c = NULL;
		_cleanup_(closep) int dirfd = -1;
		struct json_object *jc = NULL, *jb = NULL;
		int r;

		r = chain_open(*d, &dirfd, &c);
		if (r < 0)
			return r;
		if (json) {
			jc = json_object_new_object();
			jb = json_object_new_array();
			if (!jc || !jb)
				return -ENOMEM;
			json_object_array_add(root, jc);
			json_object_object_add(jc, "device", json_object_new_string(c->device));
			json_object_object_add(jc, "path", json_object_new_string(*d));
			json_object_object_add(jc, "backups", jb);
		} else {
			printf("%s%s: %zu backup%s in %s\n", d == dirs ? "" : "\n", c->device,
			       c->n_backups, c->n_backups == 1 ? "" : "s", *d);
			if (c->n_backups)
				printf("%4s  %-20s  %-11s  %10s  %10s  %10s  %-36s  %5s  %s\n", "N", "TIME (UTC)",
				       "KIND", "SIZE", "CHANGED", "ON DISK", "GENERATION", "SNAP", "IMAGE");
		}
		for (size_t i = 0; i < c->n_backups; i++) {
			const struct chain_backup *b = &c->backups[i];
			uint64_t disk = image_bytes(dirfd, b->image);
			char when[32], s1[16], s2[16], s3[16];
			time_t t = b->time;
			struct tm tm;

			gmtime_r(&t, &tm);
			if (json) {
				struct json_object *o = json_object_new_object();

				if (!o)
					return -ENOMEM;
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
				json_object_array_add(jb, o);
				json_object_object_add(o, "number", json_object_new_uint64(b->number));
				json_object_object_add(o, "image", json_object_new_string(b->image));
				json_object_object_add(o, "backing", b->backing ? json_object_new_string(b->backing) : NULL);
				json_object_object_add(o, "kind", json_object_new_string(b->full ? "full" : "incremental"));
				json_object_object_add(o, "reason", json_object_new_string(b->reason));
				json_object_object_add(o, "time", json_object_new_string(when));
				json_object_object_add(o, "device_size", json_object_new_uint64(b->device_size));
				json_object_object_add(o, "changed_bytes", json_object_new_uint64(b->changed_bytes));
				json_object_object_add(o, "image_bytes", json_object_new_uint64(disk));
				json_object_object_add(o, "generation_id", json_object_new_string(b->generation_id));
				json_object_object_add(o, "snap_number", json_object_new_uint64(b->snap_number));
				json_object_object_add(o, "extents", json_object_new_uint64(b->n_extents));
			} else {
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
				printf("%4u  %-20s  %-11s  %10s  %10s  %10s  %-36s  %5" PRIu32 "  %s\n",
				       b->number, when, b->full ? "full" : "incremental",
				       format_bytes(b->device_size, s1, sizeof(s1)),
				       format_bytes(b->changed_bytes, s2, sizeof(s2)),
				       format_bytes(disk, s3, sizeof(s3)),
				       b->generation_id, b->snap_number, b->image);
			}
		}
	}
	if (json)
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}
