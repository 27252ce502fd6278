/*
 * ptlab-exec-watch: runs a command under ptrace just long enough to photograph its address space
 * right after exec and right before exit, for `ptlab record` (docs/recording.md).
 *
 *   cc -O2 -Wall -Wextra -std=gnu11 -o runner/build/ptlab-exec-watch runner/ptlab-exec-watch.c
 *   ptlab-exec-watch OUTFILE CMD [ARGS...]
 *
 * OUTFILE receives one JSON object per line (stdout and stderr belong to CMD):
 *   {"type":"exec","pid":N,"watcher":N,"t":NS,"start_brk":N,"brk":N,"comm":"..."}  t: CLOCK_MONOTONIC ns
 *   {"type":"vma","at":"exec"|"exit","start":N,"end":N,"perms":"rw-p","off":N,"inode":N,"path":"..."}
 *   {"type":"present","start":N,"end":N,"anon":true|false}  pagemap runs at exec; anon = bit 61 clear
 *   {"type":"status","at":"exec"|"exit","VmPTE":KB,...}      /proc/PID/status counters
 *   {"type":"rollup","at":"exit","Rss":KB,...}               /proc/PID/smaps_rollup
 *   {"type":"cache","start":N,"pages":N,"cached":N}          at exit, per VMA of a file: the file
 *                                          pages it maps (up to EOF) and how many are in the page cache
 *   {"type":"exit-stop","t":NS}
 *   {"type":"end","code":N}   or {"type":"end","signal":N}
 *   {"type":"exec-failed","errno":N,"error":"..."}
 * A second execve by CMD repeats the exec group (the last one describes the image).
 *
 * Exit code: CMD's exit status, 128+signal when a signal killed it, 127/126 when CMD cannot be
 * found / executed (as a shell does), 125 for the watcher's own failures (message on stderr with
 * the prefix "ptlab-exec-watch:").
 *
 * Only the main thread is traced (no PTRACE_O_TRACECLONE): threads run freely, and the stops are
 * the post-exec SIGTRAP, signal-delivery stops (the signal is passed on unchanged) and the
 * PTRACE_EVENT_EXIT stop, where the address space is still intact.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_WATCH_FAILED 125
#define PAGE_SIZE_4K 4096ULL
#define PM_PRESENT (1ULL << 63)
#define PM_FILE (1ULL << 61) /* file page or shared anon */
#define PAGEMAP_BATCH 4096
#ifndef __NR_cachestat
#define __NR_cachestat 451 /* Linux 6.5; the same number on every architecture */
#endif

static FILE *out;
static pid_t child;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ptlab-exec-watch: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (child > 0)
		kill(child, SIGKILL);
	exit(EXIT_WATCH_FAILED);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* the clock of `perf record -k mono` */
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void json_string(const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static FILE *open_proc(pid_t pid, const char *name)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	FILE *f = fopen(path, "re");
	if (!f)
		fail("cannot open %s: %s", path, strerror(errno));
	return f;
}

/* "Key:   123 kB" lines of status / smaps_rollup, the keys listed, as one JSON object. */
static void print_kb_fields(pid_t pid, const char *file, const char *type, const char *at,
			   const char *const *keys)
{
	FILE *f = open_proc(pid, file);
	char line[256];
	fprintf(out, "{\"type\":\"%s\",\"at\":\"%s\"", type, at);
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		for (const char *const *k = keys; *k; k++)
			if (!strcmp(line, *k))
				fprintf(out, ",\"%s\":%llu", *k, strtoull(colon + 1, NULL, 10));
	}
	fclose(f);
	fputs("}\n", out);
}

static const char *const STATUS_KEYS[] = { "VmPTE", "VmRSS", "RssAnon", "RssFile", "RssShmem", "VmSize", "VmSwap", NULL };
static const char *const ROLLUP_KEYS[] = { "Rss", "Pss", "Anonymous", "AnonHugePages", "ShmemPmdMapped",
					   "FilePmdMapped", NULL };

/* Present runs of [start, end) from pagemap, split where "anonymous page" changes. */
static void print_present(int pm, uint64_t start, uint64_t end)
{
	static uint64_t buf[PAGEMAP_BATCH];
	uint64_t run_start = 0;
	int run_anon = -1; /* -1: no run open */
	for (uint64_t a = start; a < end;) {
		uint64_t n = (end - a) / PAGE_SIZE_4K;
		if (n > PAGEMAP_BATCH)
			n = PAGEMAP_BATCH;
		ssize_t r = pread(pm, buf, n * 8, (off_t)(a / PAGE_SIZE_4K * 8));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail("reading /proc/%d/pagemap at 0x%" PRIx64 ": %s", (int)child, a, r < 0 ? strerror(errno) : "short read");
		n = (uint64_t)r / 8;
		for (uint64_t i = 0; i < n; i++, a += PAGE_SIZE_4K) {
			int anon = (buf[i] & PM_PRESENT) ? !(buf[i] & PM_FILE) : -1;
			if (anon == run_anon)
				continue;
			if (run_anon >= 0)
				fprintf(out, "{\"type\":\"present\",\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"anon\":%s}\n",
					run_start, a, run_anon ? "true" : "false");
			run_start = a;
			run_anon = anon;
		}
	}
	if (run_anon >= 0)
		fprintf(out, "{\"type\":\"present\",\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"anon\":%s}\n",
			run_start, end, run_anon ? "true" : "false");
}

/* cachestat(2)'s argument and result (include/uapi/linux/mman.h), declared here for older headers. */
struct cachestat_range_arg {
	uint64_t off, len;
};
struct cachestat_result {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

/*
 * How much of the file range a VMA maps is in the page cache: fault-around maps only cached pages,
 * while replay creates every file fully cached (docs/recording.md). Prints nothing for a file that
 * is gone (a deleted file's maps path ends in " (deleted)") or is not a regular file, or on a
 * kernel without cachestat(2).
 */
static void print_cache(const char *path, uint64_t start, uint64_t off, uint64_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	struct cachestat_result cs;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		uint64_t size = (uint64_t)st.st_size;
		uint64_t end = off + len < size ? off + len : size; /* pages past EOF are not file pages */
		struct cachestat_range_arg range = { off, end > off ? end - off : 0 };
		if (range.len && syscall(__NR_cachestat, fd, &range, &cs, 0) == 0)
			fprintf(out, "{\"type\":\"cache\",\"start\":%" PRIu64 ",\"pages\":%" PRIu64 ",\"cached\":%" PRIu64 "}\n",
				start, (uint64_t)((range.len + PAGE_SIZE_4K - 1) / PAGE_SIZE_4K), (uint64_t)cs.nr_cache);
	}
	close(fd);
}

/*
 * Every VMA of /proc/PID/maps; with pagemap, their present pages too (user space only); with
 * cache, the page-cache residency of what each file VMA maps (print_cache).
 */
static void print_maps(pid_t pid, const char *at, bool with_pagemap, bool with_cache)
{
	FILE *f = open_proc(pid, "maps");
	int pm = -1;
	if (with_pagemap) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
		pm = open(path, O_RDONLY | O_CLOEXEC);
		if (pm < 0)
			fail("cannot open %s: %s", path, strerror(errno));
	}
	char line[4096 + 256];
	while (fgets(line, sizeof line, f)) {
		uint64_t start, end, off, inode;
		char perms[8];
		int pathpos = 0;
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %" SCNu64 " %n", &start, &end, perms, &off,
			   &inode, &pathpos) < 5)
			fail("unexpected line in /proc/%d/maps: %s", (int)pid, line);
		fprintf(out, "{\"type\":\"vma\",\"at\":\"%s\",\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"perms\":\"%s\",\"off\":%" PRIu64 ",\"inode\":%" PRIu64 ",\"path\":",
			at, start, end, perms, off, inode);
		json_string(pathpos ? line + pathpos : "");
		fputs("}\n", out);
		/* [vsyscall] lies above user space; [vvar] pages have no pagemap meaning. */
		if (pm >= 0 && end <= 0x800000000000ULL && strncmp(line + pathpos, "[vvar", 5))
			print_present(pm, start, end);
		if (with_cache && inode != 0 && pathpos && line[pathpos] == '/')
			print_cache(line + pathpos, start, off, end - start);
	}
	fclose(f);
	if (pm >= 0)
		close(pm);
}

static void print_exec_image(pid_t pid)
{
	uint64_t t = now_ns();
	/* /proc/PID/stat: comm is in parentheses and may hold blanks; start_brk is field 47. */
	FILE *f = open_proc(pid, "stat");
	char stat[2048];
	if (!fgets(stat, sizeof stat, f))
		fail("cannot read /proc/%d/stat", (int)pid);
	fclose(f);
	char *lp = strchr(stat, '('), *rp = strrchr(stat, ')');
	if (!lp || !rp)
		fail("unexpected /proc/%d/stat: %s", (int)pid, stat);
	*rp = '\0';
	uint64_t start_brk = 0;
	char *p = rp + 2; /* field 3 */
	for (int field = 3; field < 47 && p; field++)
		p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
	if (p)
		start_brk = strtoull(p, NULL, 10);
	fprintf(out, "{\"type\":\"exec\",\"pid\":%d,\"watcher\":%d,\"t\":%" PRIu64 ",\"start_brk\":%" PRIu64 ",\"brk\":%" PRIu64 ",\"comm\":",
		(int)pid, (int)getpid(), t, start_brk, start_brk); /* right after exec, brk == start_brk */
	json_string(lp + 1);
	fputs("}\n", out);
	print_maps(pid, "exec", true, false);
	print_kb_fields(pid, "status", "status", "exec", STATUS_KEYS);
	fflush(out);
}

static void print_exit_image(pid_t pid)
{
	fprintf(out, "{\"type\":\"exit-stop\",\"t\":%" PRIu64 "}\n", now_ns());
	print_kb_fields(pid, "status", "status", "exit", STATUS_KEYS);
	print_kb_fields(pid, "smaps_rollup", "rollup", "exit", ROLLUP_KEYS);
	print_maps(pid, "exit", false, true); /* file paths of mappings made after exec */
	fflush(out);
}

static void resume(pid_t pid, int sig)
{
	if (ptrace(PTRACE_CONT, pid, NULL, (void *)(intptr_t)sig) < 0 && errno != ESRCH)
		fail("PTRACE_CONT: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: ptlab-exec-watch OUTFILE CMD [ARGS...]\n");
		return EXIT_WATCH_FAILED;
	}
	out = fopen(argv[1], "we");
	if (!out)
		fail("cannot open %s: %s", argv[1], strerror(errno));

	/* The child reports a failed execvp through this close-on-exec pipe. */
	int errpipe[2];
	if (pipe2(errpipe, O_CLOEXEC) < 0)
		fail("pipe2: %s", strerror(errno));
	child = fork();
	if (child < 0)
		fail("fork: %s", strerror(errno));
	if (child == 0) {
		close(errpipe[0]);
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) {
			int e = errno;
			(void)!write(errpipe[1], &e, sizeof e);
			_exit(EXIT_WATCH_FAILED);
		}
		execvp(argv[2], argv + 2);
		int e = errno;
		(void)!write(errpipe[1], &e, sizeof e);
		_exit(e == ENOENT ? 127 : 126);
	}
	close(errpipe[1]);
	/* A terminal's ^C reaches CMD too; we stay to report how it ended (as system() does). */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);

	bool execed = false;
	for (;;) {
		int status;
		pid_t w = waitpid(child, &status, 0);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			fail("waitpid: %s", strerror(errno));
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			if (!execed) {
				int e = 0;
				ssize_t r;
				while ((r = read(errpipe[0], &e, sizeof e)) < 0 && errno == EINTR)
					;
				if (r == (ssize_t)sizeof e) {
					fprintf(out, "{\"type\":\"exec-failed\",\"errno\":%d,\"error\":", e);
					json_string(strerror(e));
					fputs("}\n", out);
					fclose(out);
					fprintf(stderr, "ptlab-exec-watch: %s: %s\n", argv[2], strerror(e));
					return e == ENOENT ? 127 : 126;
				}
			}
			if (WIFEXITED(status))
				fprintf(out, "{\"type\":\"end\",\"code\":%d}\n", WEXITSTATUS(status));
			else
				fprintf(out, "{\"type\":\"end\",\"signal\":%d}\n", WTERMSIG(status));
			if (fclose(out))
				fail("writing %s: %s", argv[1], strerror(errno));
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		if (!WIFSTOPPED(status))
			continue;
		int sig = WSTOPSIG(status), event = status >> 16;
		if (sig == SIGTRAP && !execed) {
			/* The SIGTRAP that follows a successful execve of a PTRACE_TRACEME child. */
			execed = true;
			print_exec_image(child);
			if (ptrace(PTRACE_SETOPTIONS, child, NULL,
				   (void *)(PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL)) < 0)
				fail("PTRACE_SETOPTIONS: %s", strerror(errno));
			resume(child, 0);
		} else if (sig == SIGTRAP && event == PTRACE_EVENT_EXEC) {
			print_exec_image(child);
			resume(child, 0);
		} else if (sig == SIGTRAP && event == PTRACE_EVENT_EXIT) {
			print_exit_image(child);
			resume(child, 0);
		} else {
			/* A signal-delivery stop: pass the signal on. A group-stop (GETSIGINFO fails with
			 * EINVAL) is resumed without one: job control does not stop CMD under ptlab record. */
			siginfo_t si;
			bool group_stop = ptrace(PTRACE_GETSIGINFO, child, NULL, &si) < 0 && errno == EINVAL;
			resume(child, group_stop ? 0 : sig);
		}
	}
}
