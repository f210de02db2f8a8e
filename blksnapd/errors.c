// SPDX-License-Identifier: GPL-2.0-only
/*
 * Errors: the kernel's errno and extack text become the named errors of the
 * D-Bus API, with a sentence that names the thing.
 */
#define _GNU_SOURCE
#include "blksnapd.h"

static const sd_bus_error_map blksnap_errors[] = {
	SD_BUS_ERROR_MAP(ERROR_PREFIX "NotTracked", ENOENT),
	SD_BUS_ERROR_MAP(ERROR_PREFIX "AlreadyTracked", EEXIST),
	SD_BUS_ERROR_MAP(ERROR_PREFIX "Busy", EBUSY),
	SD_BUS_ERROR_MAP(ERROR_PREFIX "InvalidState", EALREADY),
	SD_BUS_ERROR_MAP(ERROR_PREFIX "GenerationChanged", ESTALE),
	SD_BUS_ERROR_MAP(ERROR_PREFIX "NoSpace", ENOSPC),
	SD_BUS_ERROR_MAP(ERROR_PREFIX "Corrupted", EIO),
	SD_BUS_ERROR_MAP(ERROR_PREFIX "Failed", EIO),
	SD_BUS_ERROR_MAP_END
};

void errors_register(void)
{
	(void)sd_bus_error_add_map(blksnap_errors);
}

const char *bus_error_name_for(enum err_ctx ctx, int r)
{
	switch (-r) {
	case ENOENT:
		return ctx == ERR_TRACKER ? ERROR_PREFIX "NotTracked" :
					    SD_BUS_ERROR_UNKNOWN_OBJECT;
	case EEXIST:
		return ERROR_PREFIX "AlreadyTracked";
	case EBUSY:
		return ERROR_PREFIX "Busy";
	case EALREADY:
	case ENODATA:
		return ERROR_PREFIX "InvalidState";
	case ESTALE:
		return ERROR_PREFIX "GenerationChanged";
	case ENOSPC:
		return ERROR_PREFIX "NoSpace";
	case EIO:
		return ctx == ERR_SNAPSHOT ? ERROR_PREFIX "Corrupted" : ERROR_PREFIX "Failed";
	case EINVAL:
	case ERANGE:
	case ENODEV:
	case ENXIO:
	case ENOTBLK:
	case EBADF:
	case ELOOP:
	case E2BIG:
	case EOVERFLOW:
		return SD_BUS_ERROR_INVALID_ARGS;
	case EPERM:
	case EACCES:
		return SD_BUS_ERROR_ACCESS_DENIED;
	default:
		return ERROR_PREFIX "Failed";
	}
}

/*
 * Set @error for the kernel's refusal @r: "<what>: <strerror>: <extack>."
 * Returns the negative errno to return from a method handler.
 */
int bus_error_nl(sd_bus_error *error, enum err_ctx ctx, int r, const char *extack,
		 const char *fmt, ...)
{
	_cleanup_(freep) char *what = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	sd_bus_error_setf(error, bus_error_name_for(ctx, r), "%s: %s%s%s.", what,
			  strerror(-r), extack && *extack ? ": " : "", extack ? extack : "");
	return r;
}

int bus_error_invalid(sd_bus_error *error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sd_bus_error_setfv(error, SD_BUS_ERROR_INVALID_ARGS, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int log_full_errno(int r, const char *fmt, ...)
{
	va_list ap;

	errno = r < 0 ? -r : r;
	fputs("blksnapd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return r;
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	fputs("blksnapd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
