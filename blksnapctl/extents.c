// SPDX-License-Identifier: GPL-2.0
/*
 * Changed-extent lists: reading and checking the pairs GetChangedExtents
 * returns.
 */
#include <endian.h>
#include <inttypes.h>
#include <string.h>

#include "extents.h"
#include "util.h"

void extent_list_done(struct extent_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void extent_list_donep(struct extent_list *l)
{
	extent_list_done(l);
}

int extent_list_read_fd(int fd, const char *what, uint64_t device_size,
			struct extent_list *ret)
{
	_cleanup_(extent_list_donep) struct extent_list l = {};
	size_t cap = 0, pair = 0;
	uint64_t buf[2 * 512];
	size_t have = 0;

	for (;;) {
		ssize_t n = read(fd, (char *)buf + have, sizeof(buf) - have);

		if (n < 0) {
			if (errno == EINTR && !interrupted)
				continue;
			return log_error_errno(-errno, "cannot read the extents of %s: %m", what);
		}
		if (n == 0)
			break;
		have += n;
		for (size_t i = 0; i + 16 <= have; i += 16, pair++) {
			uint64_t off = le64toh(buf[i / 8]), len = le64toh(buf[i / 8 + 1]);
			struct extent *last = l.n ? &l.v[l.n - 1] : NULL;

			if (len == 0 || off > device_size || len > device_size - off)
				return log_error_errno(-EINVAL,
					"%s: extent %zu (%" PRIu64 "+%" PRIu64 ") is empty or beyond the device's %" PRIu64 " bytes",
					what, pair, off, len, device_size);
			if (last && off < last->offset + last->length)
				return log_error_errno(-EINVAL,
					"%s: extent %zu (%" PRIu64 "+%" PRIu64 ") is not sorted after the one before it",
					what, pair, off, len);
			if (last && off == last->offset + last->length) {
				last->length += len;
				continue;
			}
			if (l.n == cap) {
				struct extent *v;

				cap = cap ? cap * 2 : 256;
				v = reallocarray(l.v, cap, sizeof(*v));
				if (!v)
					return log_error_errno(-ENOMEM, "%s: %m", what);
				l.v = v;
			}
			l.v[l.n++] = (struct extent){ off, len };
		}
		if (have % 16)
			memmove(buf, (char *)buf + have - have % 16, have % 16);
		have %= 16;
	}
	if (have)
		return log_error_errno(-EINVAL, "%s: %zu trailing bytes: not (u64 offset, u64 length) pairs",
				       what, have);
	*ret = l;
	l = (struct extent_list){};
	return 0;
}

int extent_list_whole(uint64_t device_size, struct extent_list *ret)
{
	struct extent *v;

	if (device_size == 0) {
		*ret = (struct extent_list){};
		return 0;
	}
	v = malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	*v = (struct extent){ 0, device_size };
	*ret = (struct extent_list){ v, 1 };
	return 0;
}

uint64_t extent_list_bytes(const struct extent_list *l)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < l->n; i++)
		sum += l->v[i].length;
	return sum;
}
