// SPDX-License-Identifier: GPL-2.0
/*
 * Logging, interruption and helper programs for blksnapctl.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "util.h"

extern char **environ;

volatile int interrupted;
static struct sigaction old_int, old_term;

static void vlog(const char *fmt, va_list ap)
{
	fputs("blksnapctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int log_error_errno(int r, const char *fmt, ...)
{
	va_list ap;

	errno = r < 0 ? -r : r;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
	return r < 0 ? r : -r;
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

static void on_interrupt(int sig)
{
	interrupted = sig;
}

/*
 * No SA_RESTART: a blocking read or wait returns EINTR, so the copy loop
 * sees the flag promptly.
 */
static unsigned interrupt_depth;

/*
 * Nested: the backup of live devices holds the handler across the engine's
 * own install/restore, so a signal between two steps is not forgotten.
 */
void interrupt_install(void)
{
	struct sigaction sa = { .sa_handler = on_interrupt };

	if (interrupt_depth++)
		return;
	interrupted = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
}

void interrupt_restore(void)
{
	if (!interrupt_depth || --interrupt_depth)
		return;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
}

int run_program(char *const argv[], char **ret_out)
{
	_cleanup_(freep) char *out = NULL;
	posix_spawn_file_actions_t fa;
	size_t len = 0, cap = 0;
	int pipefd[2] = { -1, -1 };
	int r, status;
	pid_t pid;

	r = posix_spawn_file_actions_init(&fa);
	if (r)
		return -r;
	if (ret_out) {
		if (pipe2(pipefd, O_CLOEXEC) < 0) {
			r = -errno;
			posix_spawn_file_actions_destroy(&fa);
			return r;
		}
		posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	}
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (r) {
		if (pipefd[0] >= 0)
			close(pipefd[0]);
		return log_error_errno(-r, "cannot run %s: %m", argv[0]);
	}
	if (ret_out) {
		for (;;) {
			ssize_t n;

			if (cap - len < 4096) {
				char *p;

				if (cap >= 16u << 20)
					break;
				cap = cap ? cap * 2 : 65536;
				p = realloc(out, cap);
				if (!p)
					break;
				out = p;
			}
			n = read(pipefd[0], out + len, cap - len - 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += n;
		}
		close(pipefd[0]);
		if (!out)
			out = strdup("");
		else
			out[len] = '\0';
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status))
		return -EINTR;
	if (ret_out) {
		if (!out)
			return -ENOMEM;
		*ret_out = TAKE_PTR(out);
	}
	return WEXITSTATUS(status);
}

const char *format_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = n;
	unsigned i = 0;

	while (v >= 1024 && i < ELEMENTSOF(units) - 1) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%" PRIu64 " B", n);
	else
		snprintf(buf, len, "%.1f %s", v, units[i]);
	return buf;
}

uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
