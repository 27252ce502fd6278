/*
 * ptlab-runner: executes an op script (docs/op-scripts.md) on the live kernel and prints the
 * results as JSON lines in the schema the model uses (src/oracle/schema.ts).
 *
 *   cc -O2 -Wall -Wextra -std=gnu11 -o runner/build/ptlab-runner runner/ptlab-runner.c
 *   ptlab-runner SCRIPT        (or `-` to read the script from stdin)
 *
 * Exit codes: 0 everything matched, 1 an op or expect mismatched, 2 usage or parse error,
 * 3 skipped (missing privilege or kernel feature), 4 internal error.
 *
 * Shape of a run
 *   The parent parses the whole script, applies `config thp=/shmem_thp=` to sysfs, creates every
 *   memfd and file the script names, and then forks one child per `process`. It never maps anything
 *   big itself, so every child starts from the same small address space. `fork P Q` is the one op
 *   by which a child makes another: the child running P forks, and Q answers over pipes the runner
 *   takes from P through /proc (do_fork()). A child executes the
 *   memory operations it receives over its command pipe and answers over its response pipe; the
 *   parent does all the bookkeeping (placement, names, expected errors, JSON). The one op the parent
 *   executes itself is `swapoff`: the swap area is the machine's, not a process's.
 *
 * `migrate M OFFSET LEN`: compaction migrates the pages of the range. There is no system call for
 *   it within one NUMA node, so the child that owns the range writes "1" to
 *   /sys/devices/system/node/node0/compact (else /proc/sys/vm/compact_memory), a synchronous
 *   compaction of the node in which the kernel chooses which pages move; how many of the range's
 *   present pages moved (their PFNs in pagemap before and after) goes to stderr, never into the JSON.
 *
 * Why a child warms itself up before its baseline
 *   fork() copies no PTEs for VMAs without an anon_vma (text, read-only data), and untouched data
 *   pages fault in lazily. Left alone, the first time the child ran a new code path it would fault
 *   in library text (RssFile +N) and possibly allocate a PTE table for it (VmPTE +4), polluting the
 *   deltas of the script's ops. So the child first deepens its stack (room for signal frames),
 *   then MADV_POPULATE_{READ,WRITE}s every VMA it has, and only then records its baseline. All the
 *   buffers it uses for /proc reads are static and populated by that step: nothing is allocated or
 *   first-touched between the baseline and a snapshot except by the script's own ops.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/swap.h>
#include <sched.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/loop.h>
#include <linux/sockios.h>
#include <linux/userfaultfd.h>

/* Advice values from include/uapi/asm-generic/mman-common.h, for headers that predate them. */
#include "uffd_move.h"
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef TCP_ZEROCOPY_RECEIVE
#define TCP_ZEROCOPY_RECEIVE 35
#endif

enum exit_code { EXIT_OK = 0, EXIT_MISMATCH = 1, EXIT_USAGE = 2, EXIT_SKIP = 3, EXIT_INTERNAL = 4 };

#define PAGE_SIZE_4K ((uint64_t)4096)
#define C_SRC_SIZE ((uint64_t)2 << 20) /* uffd_copy's source buffer: at most 2M per op */
#define TCP_ZC_MAX ((uint64_t)64 << 20) /* tcp_zerocopy: at most 64M per op (the comment before c_tcp_pair()) */
#define PLACEMENT_BASE ((uint64_t)16 << 40) /* 16 TiB: docs/op-scripts.md, placement rule */
#define PLACEMENT_STRIDE ((uint64_t)1 << 40)

/* pagemap bits (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_GUARD_REGION (1ULL << 58)
#define PM_UFFD_WP (1ULL << 57)
#define PM_MMAP_EXCLUSIVE (1ULL << 56)

static const char THP_ENABLED_PATH[] = "/sys/kernel/mm/transparent_hugepage/enabled";
static const char THP_SHMEM_PATH[] = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";

/* ------------------------------------------------------------------------------------------------
 * Measured fields: the 8 of /proc/PID/status, then the 4 of /proc/PID/smaps_rollup, then the
 * model-only counters the kernel cannot report. Order matches src/script/ast.ts.
 */
enum { NSTATUS = 8, NROLLUP = 4, NV = NSTATUS + NROLLUP };
enum { F_ROLLUP_RSS = NSTATUS, F_FIRST_HUGE = NSTATUS + 1, F_FIRST_MODEL = NV };
static const char *const FIELD_NAMES[] = {
	"VmSize", "VmRSS", "RssAnon", "RssFile", "RssShmem", "VmPTE", "VmLck", "VmSwap",
	"Rss", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped",
	"PageTables", "ptes_reclaimed_fast", "ptes_reclaimed_slow", "pte_tables", "pte_tables_empty",
};
#define NFIELDS ((int)(sizeof FIELD_NAMES / sizeof FIELD_NAMES[0]))

/* ------------------------------------------------------------------------------------------------
 * The parsed script.
 */
enum kind {
	K_CONFIG, K_PROCESS, K_SWITCH, K_EXIT, K_FORK, K_MEMFD, K_FILE, K_MAP, K_TOUCH, K_MADVISE, K_UNMAP,
	K_MLOCK, K_MUNLOCK, K_SNAPSHOT, K_EXPECT, K_MPROTECT, K_MREMAP, K_UFFD_REGISTER, K_UFFD_COPY,
	K_UFFD_ZEROPAGE, K_UFFD_WRITEPROTECT, K_UFFD_MOVE, K_TCP_ZEROCOPY, K_BINDER_TRANSACTION, K_MIGRATE,
	K_SWAPOFF,          /* after K_MAP: like the model's parser, it needs a current process */
	K_CLEAR_REFS,       /* likewise; its type in `advice` */
	K_FADVISE,          /* likewise: the parent advises on the file of a mapping of the current process */
};
enum map_kind { MK_ANON, MK_SHMEM, MK_FILE, MK_TCP, MK_BINDER };
enum cmp { CMP_EQ, CMP_LE, CMP_GE, CMP_LT, CMP_GT, CMP_NE };
static const char *const CMP_NAMES[] = { "==", "<=", ">=", "<", ">", "!=" };

struct op {
	enum kind kind;
	int line;
	char *name;         /* process / memfd / file / map name, snapshot label */
	char *ref;          /* map: its memfd or file; touch..munlock: the map; snapshot: range map;
			       fork: the parent process (name is the child) */
	enum map_kind mkind;
	bool shared, locked, write, has_at, delta, maymove, onfault;
	bool holes;         /* uffd_move: UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES */
	char *dst;          /* uffd_move: the destination mapping, at dst_offset */
	uint64_t dst_offset;
	int huge;           /* 0, MADV_HUGEPAGE or MADV_NOHUGEPAGE */
	int prot;           /* map, mprotect: PROT_* */
	uint64_t offset, len, at, every, folio, newlen;
	int advice;         /* madvise: MADV_*; uffd_register: UFFDIO_REGISTER_MODE_* */
	const char *advice_name;
	int field;
	enum cmp cmp;
	long long value;
	int err;            /* expected outcome: 0 success, >0 errno, <0 -signal */
};

static struct op *ops;
static int nops;
static char *cfg_thp, *cfg_shmem_thp;
static int cfg_thp_line, cfg_shmem_thp_line;
/* `config swap=NM`: the size of the swap area the run creates, MiB (0: none); as src/mm/config.ts. */
enum { MAX_SWAP_MIB = 256 };
static int cfg_swap_mib, cfg_swap_line;
/* `config fault_zero_page=on|off`: what the script assumes of read faults (-1: nothing said). */
static int cfg_fault_zero_page = -1, cfg_fault_zero_page_line;
/* The script has a `migrate`: compaction is the machine's, so the run takes the exclusive lock. */
static bool has_migrate;
/* The first `map M binder` line: the runner opens no binder device, so such a script is skipped. */
static int binder_line;

/* A `swap=` value: `off` or NM with 1 <= N <= MAX_SWAP_MIB. */
static bool parse_swap(const char *v, int *mib)
{
	if (!strcmp(v, "off")) {
		*mib = 0;
		return true;
	}
	char *end;
	long n = strtol(v, &end, 10);
	if (end == v || n < 1 || n > MAX_SWAP_MIB || strcmp(end, "M"))
		return false;
	*mib = (int)n;
	return true;
}

static const struct { const char *name; int code; } ERR_TABLE[] = {
	{ "EINVAL", EINVAL }, { "ENOMEM", ENOMEM }, { "EFAULT", EFAULT }, { "EAGAIN", EAGAIN },
	{ "EEXIST", EEXIST }, { "EPERM", EPERM }, { "EBUSY", EBUSY }, { "ESRCH", ESRCH }, { "EACCES", EACCES },
	{ "ENODEV", ENODEV }, { "EOVERFLOW", EOVERFLOW }, { "EBADF", EBADF }, { "ENOSYS", ENOSYS },
	{ "EOPNOTSUPP", EOPNOTSUPP }, { "EHWPOISON", EHWPOISON }, { "EIO", EIO }, { "ENOENT", ENOENT },
	{ "SIGSEGV", -SIGSEGV }, { "SIGBUS", -SIGBUS },
};

static const struct { const char *name; int advice; } ADVICE_TABLE[] = {
	{ "dontneed", MADV_DONTNEED }, { "dontneed_locked", MADV_DONTNEED_LOCKED },
	{ "cold", MADV_COLD }, { "pageout", MADV_PAGEOUT }, { "willneed", MADV_WILLNEED },
	{ "free", MADV_FREE }, { "hugepage", MADV_HUGEPAGE }, { "nohugepage", MADV_NOHUGEPAGE },
	{ "populate_read", MADV_POPULATE_READ }, { "populate_write", MADV_POPULATE_WRITE },
	{ "guard_install", MADV_GUARD_INSTALL }, { "guard_remove", MADV_GUARD_REMOVE },
	{ "collapse", MADV_COLLAPSE },
};

static const char *err_name(int code)
{
	static char buf[32];
	if (code == 0)
		return "success";
	for (size_t i = 0; i < sizeof ERR_TABLE / sizeof ERR_TABLE[0]; i++)
		if (ERR_TABLE[i].code == code)
			return ERR_TABLE[i].name;
	if (code > 0) {
		const char *n = strerrorname_np(code);
		if (n)
			return n;
	}
	snprintf(buf, sizeof buf, code < 0 ? "signal %d" : "errno %d", code < 0 ? -code : code);
	return buf;
}

/* ------------------------------------------------------------------------------------------------
 * Runtime state of the parent. Everything the signal-path cleanup reads is set up before the
 * handlers are installed.
 */
struct fileobj {
	char *name;
	bool regular;       /* `file` (ext4 temp file) rather than `memfd` */
	uint64_t size, folio;
	int fd;
	char path[PATH_MAX];
	bool created;
};

struct proc {
	char *name;
	pid_t pid;
	int cmd_w, resp_r;
	bool alive;
	bool forked;        /* made by `fork`: a child of another child, not of the runner */
	int nmaps;          /* k of the placement rule: every map op executed in this process */
	int64_t base[NV];
	int64_t last[NV];
	bool has_last;
};

struct mapping {
	char *name;
	int proc;
	uint64_t addr, size;
	bool tcp;           /* `map M tcp`: rfd and sfd are its sockets, as numbered in the child */
	int rfd, sfd;       /* the receiving (mmapped) socket and its peer, the sender */
	int file;           /* a file or memfd mapping: its index in files[], and its offset in it; else -1 */
	uint64_t foff;
};

static struct fileobj *files;
static int nfiles;
static struct proc *procs;
static int nprocs;
static struct mapping *maps;
static int nmaps, maps_cap;
static char tmpdir[PATH_MAX];

struct knob {
	const char *path;
	const char *want;
	int line;           /* script line of the config op that set `want` */
	char saved[32];     /* the bracketed value before the run; "" when the file is unreadable */
	bool changed;
};
static struct knob knobs[2] = { { THP_ENABLED_PATH, NULL, 0, "", false },
				{ THP_SHMEM_PATH, NULL, 0, "", false } };

/*
 * The swap area of `config swap=`: a file in tmpfs (swap_file), attached to a loop device
 * (swap_path, held open as swap_loop_fd, detached by the kernel on its last close:
 * LO_FLAGS_AUTOCLEAR), swapped on, and undone by cleanup().
 */
static char swap_path[PATH_MAX], swap_file[PATH_MAX];
static bool swap_created, swap_on;
static int swap_loop_fd = -1;

static volatile sig_atomic_t cleaned;

/* Async-signal-safe: kill and reap the children, restore sysfs, remove the temp files. */
static void cleanup(void)
{
	if (cleaned)
		return;
	cleaned = 1;
	for (int i = 0; i < nprocs; i++) {
		if (procs[i].alive) {
			kill(procs[i].pid, SIGKILL);
			waitpid(procs[i].pid, NULL, 0);
			procs[i].alive = false;
		}
	}
	for (int i = 0; i < 2; i++) {
		if (knobs[i].changed) {
			int fd = open(knobs[i].path, O_WRONLY | O_CLOEXEC);
			if (fd >= 0) {
				ssize_t r = write(fd, knobs[i].saved, strlen(knobs[i].saved));
				(void)r;
				close(fd);
			}
			knobs[i].changed = false;
		}
	}
	for (int i = 0; i < nfiles; i++) {
		if (files[i].created) {
			unlink(files[i].path);
			files[i].created = false;
		}
	}
	/* After the children are gone: swapoff() then has no process's pages to read back. A script's
	 * own successful `swapoff` (do_swapoff()) has already cleared swap_on. */
	if (swap_on) {
		swapoff(swap_path);
		swap_on = false;
	}
	if (swap_loop_fd >= 0) {
		close(swap_loop_fd);
		swap_loop_fd = -1;
	}
	if (swap_created) {
		unlink(swap_file);
		swap_created = false;
	}
	if (tmpdir[0]) {
		rmdir(tmpdir);
		tmpdir[0] = 0;
	}
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ------------------------------------------------------------------------------------------------
 * JSON output.
 */
static void json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* --exec: no script, stdout is the command's; messages go to stderr as plain text. */
static bool exec_mode;

static void print_error_line(int line, const char *msg)
{
	if (exec_mode) {
		fprintf(stderr, "ptlab-runner: %s\n", msg);
		return;
	}
	printf("{\"type\":\"error\",\"line\":%d,\"message\":", line);
	json_str(msg);
	printf("}\n");
	fflush(stdout);
}

/* Prints the error line, cleans up and exits with `code`. */
static void __attribute__((noreturn, format(printf, 3, 4))) die(int code, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	print_error_line(line, msg);
	cleanup();
	exit(code);
}

/* ------------------------------------------------------------------------------------------------
 * Parser. Words are separated by blanks, `#` starts a comment, `key=value` words are options.
 */
static char parse_msg[512];

static bool parse_uint(const char *s, uint64_t *out)
{
	const char *p = s;
	uint64_t v = 0;
	int base = 10;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	const char *digits = p;
	for (;; p++) {
		int d;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return false;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	if (p == digits)
		return false;
	int shift = 0;
	switch (*p) {
	case 'K': case 'k': shift = 10; p++; break;
	case 'M': case 'm': shift = 20; p++; break;
	case 'G': case 'g': shift = 30; p++; break;
	case 'T': case 't': shift = 40; p++; break;
	default: break;
	}
	if (*p)
		return false;
	if (shift && v > (UINT64_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

static bool parse_int(const char *s, long long *out)
{
	bool neg = false;
	uint64_t v;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!parse_uint(s, &v) || v > (uint64_t)LLONG_MAX)
		return false;
	*out = neg ? -(long long)v : (long long)v;
	return true;
}

static bool is_name(const char *s, size_t n)
{
	if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

#define MAXW 32
struct line_toks {
	char *w[MAXW];
	int nw;
	char *key[MAXW], *val[MAXW];
	bool used[MAXW];
	int no;
};

static bool perr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool perr(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(parse_msg, sizeof parse_msg, fmt, ap);
	va_end(ap);
	return false;
}

static const char *opt(struct line_toks *t, const char *key)
{
	for (int i = 0; i < t->no; i++) {
		if (!strcmp(t->key[i], key)) {
			t->used[i] = true;
			return t->val[i];
		}
	}
	return NULL;
}

static bool want_name(const char *s, const char *what)
{
	if (!is_name(s, strlen(s)))
		return perr("bad %s '%s' (expected a name [A-Za-z_][A-Za-z0-9_.-]*)", what, s);
	return true;
}

static bool want_size(const char *s, const char *what, uint64_t *out)
{
	if (!parse_uint(s, out))
		return perr("bad %s '%s' (expected a size: decimal or 0x hex, optional K/M/G/T)", what, s);
	return true;
}

/* touch / madvise / unmap / mlock / munlock / snapshot range: M OFFSET LEN */
static bool parse_range(struct op *o, char **w)
{
	if (!want_name(w[0], "mapping name"))
		return false;
	o->ref = strdup(w[0]);
	return want_size(w[1], "offset", &o->offset) && want_size(w[2], "length", &o->len);
}

/* The at=ADDR option of map and mremap. */
static bool take_at(struct op *o, struct line_toks *t)
{
	const char *at = opt(t, "at");
	if (!at)
		return true;
	if (!want_size(at, "address", &o->at))
		return false;
	if (o->at % PAGE_SIZE_4K)
		return perr("at= must be 4K aligned");
	o->has_at = true;
	return true;
}

/* A protection spelled as in /proc/PID/maps: `rw-`, `r--`, `---`, `rwx` ... */
static bool want_prot(const char *s, int *out)
{
	static const char letters[3] = { 'r', 'w', 'x' };
	if (strlen(s) != 3)
		return perr("bad protection '%s' (expected three letters like rw-, r--, --- or rwx)", s);
	*out = 0;
	for (int i = 0; i < 3; i++) {
		if (s[i] == letters[i])
			*out |= 1 << i; /* PROT_READ, PROT_WRITE, PROT_EXEC */
		else if (s[i] != '-')
			return perr("bad protection '%s' (expected three letters like rw-, r--, --- or rwx)", s);
	}
	return true;
}

/* Removes the flag words of `map` (hugepage, nohugepage, locked) from w[from..]. */
static bool take_map_flags(struct op *o, struct line_toks *t, int from)
{
	int j = from;
	for (int i = from; i < t->nw; i++) {
		if (!strcmp(t->w[i], "hugepage") || !strcmp(t->w[i], "nohugepage")) {
			if (o->huge)
				return perr("more than one of hugepage/nohugepage");
			o->huge = t->w[i][0] == 'h' ? MADV_HUGEPAGE : MADV_NOHUGEPAGE;
		} else if (!strcmp(t->w[i], "locked")) {
			o->locked = true;
		} else {
			t->w[j++] = t->w[i];
		}
	}
	t->nw = j;
	return true;
}

static bool want_share(struct op *o, const char *s)
{
	if (!strcmp(s, "shared"))
		o->shared = true;
	else if (!strcmp(s, "private"))
		o->shared = false;
	else
		return perr("bad sharing '%s' (expected shared or private)", s);
	return true;
}

static bool want_words(struct line_toks *t, int lo, int hi, const char *usage)
{
	if (t->nw < lo || t->nw > hi)
		return perr("wrong number of words (expected %s)", usage);
	return true;
}

static bool parse_op(struct op *o, struct line_toks *t)
{
	const char *op = t->w[0];
	const char *e = opt(t, "err");
	if (e) {
		bool found = false;
		for (size_t i = 0; i < sizeof ERR_TABLE / sizeof ERR_TABLE[0]; i++) {
			if (!strcmp(ERR_TABLE[i].name, e)) {
				o->err = ERR_TABLE[i].code;
				found = true;
			}
		}
		if (!found)
			return perr("unknown err=%s (expected EINVAL, ENOMEM, EFAULT, EAGAIN, EEXIST, EPERM, EBUSY, SIGSEGV, SIGBUS, ...)", e);
	}

	if (!strcmp(op, "config")) {
		o->kind = K_CONFIG;
		if (!want_words(t, 1, 1, "config KEY=VALUE ..."))
			return false;
		for (int i = 0; i < t->no; i++) {
			t->used[i] = true;
			if (!strcmp(t->key[i], "thp")) {
				cfg_thp = strdup(t->val[i]);
				cfg_thp_line = o->line;
			} else if (!strcmp(t->key[i], "shmem_thp")) {
				cfg_shmem_thp = strdup(t->val[i]);
				cfg_shmem_thp_line = o->line;
			} else if (!strcmp(t->key[i], "swap")) {
				if (!parse_swap(t->val[i], &cfg_swap_mib))
					return perr("bad value '%s' for swap (expected off, or a size from 1M to %dM)", t->val[i], MAX_SWAP_MIB);
				cfg_swap_line = o->line;
			} else if (!strcmp(t->key[i], "fault_zero_page")) {
				if (strcmp(t->val[i], "on") && strcmp(t->val[i], "off"))
					return perr("bad value '%s' for fault_zero_page (expected one of: on, off)", t->val[i]);
				cfg_fault_zero_page = !strcmp(t->val[i], "on");
				cfg_fault_zero_page_line = o->line;
			}
		}
	} else if (!strcmp(op, "process") || !strcmp(op, "switch") || !strcmp(op, "exit")) {
		o->kind = op[0] == 'p' ? K_PROCESS : op[0] == 's' ? K_SWITCH : K_EXIT;
		if (!want_words(t, 2, 2, "a process name") || !want_name(t->w[1], "process name"))
			return false;
		o->name = strdup(t->w[1]);
	} else if (!strcmp(op, "fork")) {
		o->kind = K_FORK;
		if (!want_words(t, 3, 3, "fork P Q") || !want_name(t->w[1], "process name") ||
		    !want_name(t->w[2], "process name"))
			return false;
		o->ref = strdup(t->w[1]);
		o->name = strdup(t->w[2]);
	} else if (!strcmp(op, "memfd")) {
		o->kind = K_MEMFD;
		if (!want_words(t, 3, 3, "memfd F SIZE") || !want_name(t->w[1], "memfd name") ||
		    !want_size(t->w[2], "size", &o->len))
			return false;
		o->name = strdup(t->w[1]);
	} else if (!strcmp(op, "file")) {
		o->kind = K_FILE;
		if (!want_words(t, 3, 3, "file F SIZE [folio=4K|2M]") || !want_name(t->w[1], "file name") ||
		    !want_size(t->w[2], "size", &o->len))
			return false;
		o->name = strdup(t->w[1]);
		const char *f = opt(t, "folio");
		o->folio = PAGE_SIZE_4K;
		if (f && (!want_size(f, "folio", &o->folio) || o->folio == 0 || o->folio % PAGE_SIZE_4K))
			return perr("bad folio=%s (expected a multiple of 4K, e.g. 4K or 2M)", f);
	} else if (!strcmp(op, "map")) {
		o->kind = K_MAP;
		if (t->nw < 3 || !want_name(t->w[1], "mapping name"))
			return t->nw < 3 ? perr("wrong number of words (expected map M anon|shmem|file|tcp|binder ...)") : false;
		o->name = strdup(t->w[1]);
		const char *k = t->w[2];
		if (!strcmp(k, "anon")) {
			o->mkind = MK_ANON;
			if (!take_map_flags(o, t, 3) ||
			    !want_words(t, 5, 5, "map M anon private|shared SIZE [at=ADDR] [hugepage|nohugepage] [locked]") ||
			    !want_share(o, t->w[3]) || !want_size(t->w[4], "size", &o->len))
				return false;
		} else if (!strcmp(k, "shmem") || !strcmp(k, "file")) {
			o->mkind = k[0] == 's' ? MK_SHMEM : MK_FILE;
			if (t->nw < 4 || !take_map_flags(o, t, 4) ||
			    !want_words(t, 7, 7, "map M shmem|file F OFFSET SIZE shared|private [at=ADDR] [hugepage|nohugepage]") ||
			    !want_name(t->w[3], "file name") || !want_size(t->w[4], "offset", &o->offset) ||
			    !want_size(t->w[5], "size", &o->len) || !want_share(o, t->w[6]))
				return t->nw < 4 ? perr("wrong number of words (expected map M shmem|file F OFFSET SIZE shared|private)") : false;
			o->ref = strdup(t->w[3]);
		} else if (!strcmp(k, "tcp")) {
			/* Read-only and shared by construction: tcp_mmap() refuses VM_WRITE and VM_EXEC. */
			o->mkind = MK_TCP;
			o->shared = true;
			for (int i = 3; i < t->nw; i++)
				if (!strcmp(t->w[i], "hugepage") || !strcmp(t->w[i], "nohugepage") || !strcmp(t->w[i], "locked"))
					return perr("map M tcp takes no %s (expected map M tcp SIZE [at=ADDR])", t->w[i]);
			if (opt(t, "prot"))
				return perr("map M tcp takes no prot= (the mapping is always r-- and shared: tcp_mmap() refuses VM_WRITE and VM_EXEC)");
			if (!want_words(t, 4, 4, "map M tcp SIZE [at=ADDR]") || !want_size(t->w[3], "size", &o->len))
				return false;
		} else if (!strcmp(k, "binder")) {
			/* Model only (the model's binder_mmap()): parsed so that the script can be skipped. */
			o->mkind = MK_BINDER;
			o->shared = true;
			if (!want_words(t, 4, 4, "map M binder SIZE [at=ADDR]") || !want_size(t->w[3], "size", &o->len))
				return false;
			if (!binder_line)
				binder_line = o->line;
		} else {
			return perr("unknown mapping kind '%s' (expected anon, shmem, file, tcp or binder)", k);
		}
		if (o->len == 0 || o->len % PAGE_SIZE_4K)
			return perr("mapping size must be a non-zero multiple of 4K");
		if (!take_at(o, t))
			return false;
		(void)opt(t, "align"); /* accepted for compatibility; placement already aligns to 1 TiB */
		const char *pr = opt(t, "prot");
		o->prot = o->mkind == MK_TCP || o->mkind == MK_BINDER ? PROT_READ : PROT_READ | PROT_WRITE;
		if (pr && !want_prot(pr, &o->prot))
			return false;
	} else if (!strcmp(op, "mprotect")) {
		o->kind = K_MPROTECT;
		if (!want_words(t, 5, 5, "mprotect M OFFSET LEN PROT") || !parse_range(o, t->w + 1) || !want_prot(t->w[4], &o->prot))
			return false;
	} else if (!strcmp(op, "mremap")) {
		o->kind = K_MREMAP;
		if (t->nw == 6 && !strcmp(t->w[5], "maymove")) {
			o->maymove = true;
			t->nw = 5;
		}
		if (!want_words(t, 5, 5, "mremap M OFFSET OLDLEN NEWLEN [maymove] [at=ADDR]") || !parse_range(o, t->w + 1) ||
		    !want_size(t->w[4], "new length", &o->newlen))
			return false;
		if (!take_at(o, t))
			return false;
	} else if (!strcmp(op, "touch")) {
		o->kind = K_TOUCH;
		if (!want_words(t, 5, 5, "touch M OFFSET LEN read|write [every=STRIDE]") || !parse_range(o, t->w + 1))
			return false;
		if (!strcmp(t->w[4], "write"))
			o->write = true;
		else if (strcmp(t->w[4], "read"))
			return perr("bad access '%s' (expected read or write)", t->w[4]);
		const char *ev = opt(t, "every");
		o->every = PAGE_SIZE_4K;
		if (ev && (!want_size(ev, "stride", &o->every) || o->every == 0))
			return perr("bad every=%s (expected a non-zero size)", ev);
	} else if (!strcmp(op, "madvise")) {
		o->kind = K_MADVISE;
		if (!want_words(t, 5, 5, "madvise M OFFSET LEN ADVICE") || !parse_range(o, t->w + 1))
			return false;
		bool found = false;
		for (size_t i = 0; i < sizeof ADVICE_TABLE / sizeof ADVICE_TABLE[0]; i++) {
			if (!strcmp(ADVICE_TABLE[i].name, t->w[4])) {
				o->advice = ADVICE_TABLE[i].advice;
				o->advice_name = ADVICE_TABLE[i].name;
				found = true;
			}
		}
		if (!found)
			return perr("unknown advice '%s' (expected dontneed, dontneed_locked, free, hugepage, nohugepage, populate_read, populate_write, guard_install, guard_remove, collapse, cold or pageout)", t->w[4]);
	} else if (!strcmp(op, "uffd_register")) {
		o->kind = K_UFFD_REGISTER;
		if (!want_words(t, 5, 5, "uffd_register M OFFSET LEN missing|wp|minor") || !parse_range(o, t->w + 1))
			return false;
		static const char *const modes[] = { "missing", "wp", "minor" };
		for (int i = 0; i < 3; i++) {
			if (!strcmp(t->w[4], modes[i])) {
				o->advice = 1 << i; /* UFFDIO_REGISTER_MODE_MISSING, _WP, _MINOR */
				o->advice_name = modes[i];
			}
		}
		if (!o->advice_name)
			return perr("unknown registration mode '%s' (expected missing, wp or minor)", t->w[4]);
	} else if (!strcmp(op, "uffd_writeprotect")) {
		o->kind = K_UFFD_WRITEPROTECT;
		if (!want_words(t, 5, 5, "uffd_writeprotect M OFFSET LEN on|off") || !parse_range(o, t->w + 1))
			return false;
		if (!strcmp(t->w[4], "on"))
			o->advice = UFFDIO_WRITEPROTECT_MODE_WP;
		else if (strcmp(t->w[4], "off"))
			return perr("bad protection switch '%s' (expected on or off)", t->w[4]);
	} else if (!strcmp(op, "uffd_move")) {
		o->kind = K_UFFD_MOVE;
		if (t->nw == 7 && !strcmp(t->w[6], "allow_src_holes")) {
			o->holes = true;
			t->nw = 6;
		}
		if (!want_words(t, 6, 6, "uffd_move M OFFSET LEN DST DST_OFFSET [allow_src_holes]") || !parse_range(o, t->w + 1))
			return false;
		if (!want_name(t->w[4], "mapping name"))
			return false;
		o->dst = strdup(t->w[4]);
		if (!want_size(t->w[5], "destination offset", &o->dst_offset))
			return false;
	} else if (!strcmp(op, "uffd_copy") || !strcmp(op, "uffd_zeropage")) {
		o->kind = op[5] == 'c' ? K_UFFD_COPY : K_UFFD_ZEROPAGE;
		if (!want_words(t, 4, 4, "OP M OFFSET LEN") || !parse_range(o, t->w + 1))
			return false;
		if (o->kind == K_UFFD_COPY && o->len > C_SRC_SIZE)
			return perr("uffd_copy of more than 2M (expected at most the runner's source buffer, 2M)");
	} else if (!strcmp(op, "tcp_zerocopy")) {
		o->kind = K_TCP_ZEROCOPY;
		if (!want_words(t, 4, 4, "tcp_zerocopy M OFFSET LEN") || !parse_range(o, t->w + 1))
			return false;
		if (o->len > TCP_ZC_MAX)
			return perr("tcp_zerocopy of more than 64M (expected at most what the runner's receive buffer holds, 64M)");
	} else if (!strcmp(op, "binder_transaction")) {
		o->kind = K_BINDER_TRANSACTION;
		if (!want_words(t, 4, 4, "binder_transaction M OFFSET LEN") || !parse_range(o, t->w + 1))
			return false;
	} else if (!strcmp(op, "migrate")) {
		/* No err=, as in the model: compaction is no system call, so there is no outcome to expect. */
		o->kind = K_MIGRATE;
		if (e)
			return perr("unknown option err= for migrate (compaction is no system call: it has no outcome to expect)");
		if (!want_words(t, 4, 4, "migrate M OFFSET LEN") || !parse_range(o, t->w + 1))
			return false;
		has_migrate = true;
	} else if (!strcmp(op, "unmap") || !strcmp(op, "mlock") || !strcmp(op, "munlock")) {
		o->kind = op[0] == 'u' ? K_UNMAP : op[1] == 'l' ? K_MLOCK : K_MUNLOCK;
		if (o->kind == K_MLOCK && t->nw == 5 && !strcmp(t->w[4], "onfault")) {
			o->onfault = true; /* mlock2(MLOCK_ONFAULT) */
			t->nw = 4;
		}
		if (!want_words(t, 4, 4, o->kind == K_MLOCK ? "mlock M OFFSET LEN [onfault]" : "OP M OFFSET LEN") || !parse_range(o, t->w + 1))
			return false;
	} else if (!strcmp(op, "swapoff")) {
		/*
		 * As the model's validator (src/script/parse.ts): the swap area is the one `config swap=`
		 * gave the script before this line, and only one swapoff expected to succeed may take it
		 * away; one with err= leaves it on (on the kernel, a failed swapoff(2) puts the area back).
		 */
		static int swapoff_line;
		o->kind = K_SWAPOFF;
		if (!want_words(t, 1, 1, "swapoff [err=NAME]"))
			return false;
		if (!cfg_swap_mib)
			return perr("swapoff without a swap area (expected config swap=SIZE before the first process)");
		if (swapoff_line)
			return perr("swapoff: the swap area is already off (line %d)", swapoff_line);
		if (!o->err)
			swapoff_line = o->line;
	} else if (!strcmp(op, "clear_refs")) {
		/* As the model's parser: 1, 2, 3 or 5; the model keeps no soft-dirty bits (4). */
		o->kind = K_CLEAR_REFS;
		if (!want_words(t, 2, 2, "clear_refs 1|2|3|5 [err=NAME]"))
			return false;
		if (!strcmp(t->w[1], "4"))
			return perr("clear_refs 4 (soft-dirty) is not modelled: the model keeps no soft-dirty bits (expected one of: 1, 2, 3, 5)");
		if (strlen(t->w[1]) != 1 || !strchr("1235", t->w[1][0]))
			return perr("bad clear_refs type '%s' (expected one of: 1, 2, 3, 5)", t->w[1]);
		o->advice = t->w[1][0] - '0';
	} else if (!strcmp(op, "fadvise")) {
		o->kind = K_FADVISE;
		if (!want_words(t, 5, 5, "fadvise M OFFSET LEN dontneed [err=NAME]") || !parse_range(o, t->w + 1))
			return false;
		if (strcmp(t->w[4], "dontneed"))
			return perr("unknown fadvise advice '%s' (expected dontneed)", t->w[4]);
		o->advice = POSIX_FADV_DONTNEED;
	} else if (!strcmp(op, "snapshot")) {
		o->kind = K_SNAPSHOT;
		if (t->nw != 2 && t->nw != 5)
			return perr("wrong number of words (expected snapshot LABEL [M OFFSET LEN])");
		o->name = strdup(t->w[1]);
		if (t->nw == 5 && !parse_range(o, t->w + 2))
			return false;
	} else if (!strcmp(op, "expect")) {
		o->kind = K_EXPECT;
		int i = 1;
		if (t->nw < 3)
			return perr("wrong number of words (expected expect FIELD [delta] [==|<=|>=|<|>|!=] N)");
		o->field = -1;
		for (int f = 0; f < NFIELDS; f++)
			if (!strcmp(FIELD_NAMES[f], t->w[i]))
				o->field = f;
		if (o->field < 0)
			return perr("unknown field '%s' (expected VmSize, VmRSS, RssAnon, RssFile, RssShmem, VmPTE, VmLck, VmSwap, Rss, AnonHugePages, ShmemPmdMapped, FilePmdMapped, PageTables, ptes_reclaimed_fast, ptes_reclaimed_slow, pte_tables or pte_tables_empty)", t->w[i]);
		i++;
		if (i < t->nw && !strcmp(t->w[i], "delta")) {
			o->delta = true;
			i++;
		}
		o->cmp = CMP_EQ;
		for (int c = 0; c < 6 && i < t->nw; c++) {
			if (!strcmp(CMP_NAMES[c], t->w[i])) {
				o->cmp = (enum cmp)c;
				i++;
				break;
			}
		}
		if (i != t->nw - 1 || !parse_int(t->w[i], &o->value))
			return perr("bad expectation (expected expect FIELD [delta] [==|<=|>=|<|>|!=] N)");
	} else {
		return perr("unknown op '%s' (expected config, process, switch, exit, fork, memfd, file, map, touch, madvise, unmap, mlock, munlock, mprotect, mremap, uffd_register, uffd_copy, uffd_zeropage, uffd_writeprotect, uffd_move, tcp_zerocopy, migrate, swapoff, clear_refs, snapshot or expect)", op);
	}
	for (int i = 0; i < t->no; i++)
		if (!t->used[i])
			return perr("unknown option %s= for %s", t->key[i], op);
	return true;
}

/* Parses the whole script; on error prints nothing but returns the line and sets parse_msg. */
static int parse_script(char *text)
{
	int cap = 64;
	ops = calloc((size_t)cap, sizeof *ops);
	if (!ops)
		return perr("out of memory"), -1;
	int lineno = 0;
	bool seen_process = false;
	for (char *line = text; line; ) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		struct line_toks t;
		memset(&t, 0, sizeof t);
		for (char *p = line; *p; ) {
			while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\v' || *p == '\f')
				p++;
			if (!*p)
				break;
			char *s = p;
			while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\v' && *p != '\f')
				p++;
			if (*p)
				*p++ = 0;
			char *eq = strchr(s, '=');
			/* `==`, `<=`, `>=`, `!=` are comparison words, not options: the key must be a name. */
			if (eq && is_name(s, (size_t)(eq - s)) && t.nw > 0) {
				if (t.no == MAXW)
					return perr("too many options"), lineno;
				*eq = 0;
				t.key[t.no] = s;
				t.val[t.no++] = eq + 1;
			} else {
				if (t.nw == MAXW)
					return perr("too many words"), lineno;
				t.w[t.nw++] = s;
			}
		}
		line = nl ? nl + 1 : NULL;
		if (t.nw == 0)
			continue;
		if (nops == cap) {
			cap *= 2;
			struct op *n = realloc(ops, (size_t)cap * sizeof *ops);
			if (!n)
				return perr("out of memory"), lineno;
			ops = n;
		}
		struct op *o = &ops[nops];
		memset(o, 0, sizeof *o);
		o->line = lineno;
		if (!parse_op(o, &t))
			return lineno;
		if (o->kind == K_CONFIG && seen_process)
			return perr("config must come before the first process"), lineno;
		if (o->kind == K_PROCESS)
			seen_process = true;
		nops++;
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Parent <-> child protocol: fixed-size binary records over two pipes.
 */
enum cmd_op {
	C_MAP = 1, C_TOUCH, C_MADVISE, C_MUNMAP, C_MLOCK, C_MUNLOCK, C_SNAPSHOT, C_MPROTECT, C_MREMAP, C_UFFD_REGISTER,
	C_UFFD_COPY, C_UFFD_ZEROPAGE, C_UFFD_WRITEPROTECT, C_TCP_ZEROCOPY, C_MIGRATE, C_FORK, C_FORK_DONE,
	C_UFFD_MOVE,
};

struct cmd {
	uint32_t op;
	int32_t fd;
	uint64_t addr, len, off, stride;
	int32_t flags, advice, huge, locked, write, has_range, prot;
	uint64_t newlen, newaddr; /* C_MREMAP; flags: MREMAP_MAYMOVE, MREMAP_FIXED.
				     C_UFFD_MOVE: newaddr is the source (addr the destination), advice the mode */
	int32_t tcp;        /* C_MAP: map a new loopback TCP connection's receiving socket (fd unused) */
	int32_t sfd;        /* C_TCP_ZEROCOPY: the sending socket; fd is the receiving one */
};

struct resp {
	int32_t err;        /* 0, an errno, or -SIGSEGV / -SIGBUS */
	int32_t aux;        /* C_MAP: 1 when the mapping exists (even if madvise/mlock then failed);
			       C_UFFD_*: 1 when the process could not get a userfaultfd (err says why);
			       C_MIGRATE: the COMPACT_PATHS index of the file written (or tried last);
			       C_FORK: the child's pid */
	uint64_t addr;      /* C_MREMAP: where the mapping is now */
	int64_t ns;         /* CLOCK_MONOTONIC time the operation took in the child */
	int64_t v[NV];
	/* C_MAP of tcp and C_TCP_ZEROCOPY: the step that failed, TS_* (then err is its errno, or 0 for
	   a timeout or a wrong MSS), which is the runner's failure, not the op's outcome.
	   C_MIGRATE: likewise, MS_* (then err is its errno). */
	int32_t step;
	int32_t rfd, sfd;   /* C_MAP of tcp: the child's receiving and sending sockets;
			       C_FORK: the forked process's command (write) and response (read)
			       pipe ends, as numbered in the process that forked it */
	uint32_t got;       /* C_TCP_ZEROCOPY: zc.length; TS_MSS: the MSS; TS_SEND, TS_WAIT: bytes sent, queued */
	uint32_t hint;      /* C_TCP_ZEROCOPY: zc.recv_skip_hint; TS_DRAIN: bytes still queued */
	uint64_t present;   /* C_MIGRATE: pages of the range present before the compaction, */
	uint64_t moved;     /*   of which present after it at another PFN, */
	uint64_t gone;      /*   and of which no longer present */
};

/* A snapshot with a range is followed by chunks of run-length pagemap codes: count << 8 | code. */
struct chunk_hdr {
	uint32_t n;         /* 0 ends the stream */
	int32_t err;
};
#define RUN_CHUNK 4096
#define PM_CHUNK 8192
/* Snapshots of more pages carry no mincore runs (src/script/output.ts, MINCORE_MAX_PAGES). */
#define MINCORE_MAX_PAGES ((uint64_t)1 << 24)
/* ... and no move_pages(2) runs (src/script/output.ts, MOVE_PAGES_MAX_PAGES). */
#define MOVE_PAGES_MAX_PAGES ((uint64_t)1 << 18)
/* Whether move_pages(2) exists here (CONFIG_NUMA and CONFIG_MIGRATION): probed in main(). */
static bool have_move_pages;
/* Whether /proc/PID/pagemap has the PAGEMAP_SCAN ioctl (Linux 6.7+): probed in main(). */
static bool have_pagemap_scan;

/* PAGEMAP_SCAN for UAPI headers that predate it (include/uapi/linux/fs.h, Linux 6.7+). */
#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};
struct pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)
#define PAGE_IS_GUARD (1 << 8)
#endif
/* Every category but soft-dirty (never set on a kernel without CONFIG_MEM_SOFT_DIRTY, as here). */
#define SCAN_RETURN_MASK (PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN | PAGE_IS_FILE | PAGE_IS_PRESENT | \
			  PAGE_IS_SWAPPED | PAGE_IS_PFNZERO | PAGE_IS_HUGE | PAGE_IS_GUARD)
/* Regions per PAGEMAP_SCAN call (src/mm/kernel.ts, SCAN_VEC_LEN). */
#define SCAN_VEC_LEN 4096

static int write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t r = write(fd, p, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* 0 on success, -1 on EOF, else errno */
static int read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (r == 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Child side. Only static buffers; no malloc, no stdio.
 */
static char c_buf[65536];
static uint64_t c_pm[PM_CHUNK];
static uint64_t c_runs[RUN_CHUNK];
static struct chunk_hdr c_hdr;
static sigjmp_buf c_touch_env;
static volatile sig_atomic_t c_in_touch;

static void c_fault(int sig)
{
	if (c_in_touch)
		siglongjmp(c_touch_env, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int c_read_proc(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	size_t n = 0;
	while (n < cap - 1) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	return 0;
}

/* Value of `KEY:   N kB` at the start of a line, or -1. */
static int64_t c_field(const char *buf, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = buf; p && *p; ) {
		if (!strncmp(p, key, kl) && p[kl] == ':') {
			p += kl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			int64_t v = 0;
			while (*p >= '0' && *p <= '9')
				v = v * 10 + (*p++ - '0');
			return v;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static int c_measure(int64_t *v)
{
	int e = c_read_proc("/proc/self/status", c_buf, sizeof c_buf);
	if (e)
		return e;
	for (int i = 0; i < NSTATUS; i++)
		v[i] = c_field(c_buf, FIELD_NAMES[i]);
	e = c_read_proc("/proc/self/smaps_rollup", c_buf, sizeof c_buf);
	if (e)
		return e;
	for (int i = NSTATUS; i < NV; i++)
		v[i] = c_field(c_buf, FIELD_NAMES[i]);
	return 0;
}

static char pm_code(uint64_t e)
{
	if (e & PM_PRESENT)
		return (e & PM_MMAP_EXCLUSIVE) ? 'x' : 'p';
	/* Guard and uffd-wp markers are non-present swap-format entries: on 6.18 they also carry
	 * PM_SWAP (bit 62), so test the marker bits first. */
	if (e & PM_GUARD_REGION)
		return 'g';
	if (e & PM_UFFD_WP)
		return 'w';
	if (e & PM_SWAP)
		return 's';
	return '-';
}

static int c_flush_runs(int wfd, uint32_t n, int err)
{
	c_hdr.n = n;
	c_hdr.err = err;
	int e = write_full(wfd, &c_hdr, sizeof c_hdr);
	if (!e && n)
		e = write_full(wfd, c_runs, n * sizeof c_runs[0]);
	return e;
}

/* A run-length coder of page codes that streams full chunks of runs to the parent. */
struct rle {
	uint32_t nruns;
	uint64_t run;
	char code;
};

/* Adds one page's code; 0, or EPIPE when a full chunk could not be written. */
static int rle_push(int wfd, struct rle *r, char c)
{
	if (c == r->code) {
		r->run++;
		return 0;
	}
	if (r->run) {
		c_runs[r->nruns++] = r->run << 8 | (uint8_t)r->code;
		if (r->nruns == RUN_CHUNK) {
			r->nruns = 0;
			if (c_flush_runs(wfd, RUN_CHUNK, 0))
				return EPIPE;
		}
	}
	r->code = c;
	r->run = 1;
	return 0;
}

/* Ends a stream: the last runs, then the terminator carrying `err`. */
static int rle_end(int wfd, struct rle *r, int err)
{
	if (!err && r->run)
		c_runs[r->nruns++] = r->run << 8 | (uint8_t)r->code;
	if (!err && r->nruns && c_flush_runs(wfd, r->nruns, 0))
		return EPIPE;
	return c_flush_runs(wfd, 0, err);
}

/*
 * Reads the pagemap entries of the n <= PM_CHUNK pages from page `first` of the range at addr into
 * c_pm, from fd, an open /proc/self/pagemap: 0 or an errno.
 */
static int c_pm_read(int fd, uint64_t addr, uint64_t first, uint64_t n)
{
	off_t pos = (off_t)(((addr / PAGE_SIZE_4K) + first) * sizeof(uint64_t));
	size_t got = 0;
	while (got < n * sizeof(uint64_t)) {
		ssize_t rd = pread(fd, (char *)c_pm + got, n * sizeof(uint64_t) - got, pos + (off_t)got);
		if (rd < 0 && errno == EINTR)
			continue;
		if (rd == 0) {
			/*
			 * End of file: /proc/PID/pagemap ends at TASK_SIZE (pagemap_read()), and a
			 * range reaching past it (a mapping moved next to the top) has no pages there.
			 */
			memset((char *)c_pm + got, 0, n * sizeof(uint64_t) - got);
			return 0;
		}
		if (rd < 0)
			return errno;
		got += (size_t)rd;
	}
	return 0;
}

/* Streams the run-length pagemap codes of [addr, addr + npages * 4K) and a terminator. */
static int c_pagemap(int wfd, uint64_t addr, uint64_t npages)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return c_flush_runs(wfd, 0, errno ? errno : EIO);
	struct rle r = { 0 };
	int err = 0;
	for (uint64_t done = 0; done < npages && !err; ) {
		uint64_t n = npages - done < PM_CHUNK ? npages - done : PM_CHUNK;
		err = c_pm_read(fd, addr, done, n);
		for (uint64_t i = 0; i < n && !err; i++)
			err = rle_push(wfd, &r, pm_code(c_pm[i]));
		done += n;
	}
	close(fd);
	return rle_end(wfd, &r, err);
}

/*
 * Streams the run-length mincore(2) codes of [addr, addr + npages * 4K): 'r' resident, 'n' not,
 * '-' not mapped. One call per chunk; a chunk that fails with ENOMEM (a hole, or past TASK_SIZE)
 * is asked again page by page, each failing page '-', as src/mm/kernel.ts procMincore() does.
 */
static int c_mincore(int wfd, uint64_t addr, uint64_t npages)
{
	static unsigned char vec[PM_CHUNK];
	struct rle r = { 0 };
	int err = 0;
	for (uint64_t done = 0; done < npages && !err; ) {
		uint64_t n = npages - done < PM_CHUNK ? npages - done : PM_CHUNK;
		uint64_t a = addr + done * PAGE_SIZE_4K;
		bool whole = mincore((void *)(uintptr_t)a, n * PAGE_SIZE_4K, vec) == 0;
		if (!whole && errno != ENOMEM)
			err = errno;
		for (uint64_t i = 0; i < n && !err; i++) {
			char c;
			if (whole)
				c = (vec[i] & 1) ? 'r' : 'n';
			else if (mincore((void *)(uintptr_t)(a + i * PAGE_SIZE_4K), PAGE_SIZE_4K, &vec[i]) == 0)
				c = (vec[i] & 1) ? 'r' : 'n';
			else
				c = '-';
			err = rle_push(wfd, &r, c);
		}
		done += n;
	}
	return rle_end(wfd, &r, err);
}

/*
 * The snapshot letter of a PAGEMAP_SCAN page: the same table as src/mm/kernel.ts
 * pagemapScanCode() (docs/op-scripts.md). Lower case written, upper case not.
 */
static char scan_code(uint64_t cats)
{
	char c;
	switch (cats & ~(uint64_t)PAGE_IS_WRITTEN) {
	case 0: c = 'e'; break;
	case PAGE_IS_PRESENT: c = 'a'; break;
	case PAGE_IS_PRESENT | PAGE_IS_FILE: c = 'f'; break;
	case PAGE_IS_PRESENT | PAGE_IS_PFNZERO: c = 'z'; break;
	case PAGE_IS_HUGE | PAGE_IS_PRESENT: c = 'h'; break;
	case PAGE_IS_HUGE | PAGE_IS_PRESENT | PAGE_IS_FILE: c = 't'; break;
	case PAGE_IS_HUGE | PAGE_IS_PRESENT | PAGE_IS_PFNZERO: c = 'y'; break;
	case PAGE_IS_SWAPPED: c = 's'; break;
	case PAGE_IS_SWAPPED | PAGE_IS_FILE: c = 'm'; break;
	case PAGE_IS_SWAPPED | PAGE_IS_GUARD: c = 'g'; break;
	case PAGE_IS_HUGE | PAGE_IS_SWAPPED: c = 'v'; break;
	case PAGE_IS_HUGE | PAGE_IS_SWAPPED | PAGE_IS_FILE: c = 'n'; break;
	default: return '?';
	}
	return (cats & PAGE_IS_WRITTEN) ? c : (char)(c - 'a' + 'A');
}

/*
 * Streams the run-length PAGEMAP_SCAN codes of [addr, addr + npages * 4K): another ioctl from
 * walk_end while one fills its SCAN_VEC_LEN regions; pages no region covers (no VMA) and
 * pages past TASK_SIZE, where the ioctl fails with EFAULT, are '-'.
 */
static int c_pagemap_scan(int wfd, uint64_t addr, uint64_t npages)
{
	static struct page_region vec[SCAN_VEC_LEN];
	const uint64_t task_size = ((uint64_t)1 << 47) - PAGE_SIZE_4K;
	uint64_t end = addr + npages * PAGE_SIZE_4K, pos = addr;
	uint64_t scan_end = end < task_size ? end : task_size;
	struct rle r = { 0 };
	int err = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rle_end(wfd, &r, errno ? errno : EIO);
	for (uint64_t start = addr; start < scan_end && !err; ) {
		struct pm_scan_arg a;
		memset(&a, 0, sizeof a);
		a.size = sizeof a;
		a.start = start;
		a.end = scan_end;
		a.vec = (uint64_t)(uintptr_t)vec;
		a.vec_len = SCAN_VEC_LEN;
		a.return_mask = SCAN_RETURN_MASK;
		long n = ioctl(fd, PAGEMAP_SCAN, &a);
		if (n < 0) {
			err = errno;
			break;
		}
		for (long i = 0; i < n && !err; i++) {
			for (; pos < vec[i].start && !err; pos += PAGE_SIZE_4K)
				err = rle_push(wfd, &r, '-');
			char c = scan_code(vec[i].categories);
			for (; pos < vec[i].end && !err; pos += PAGE_SIZE_4K)
				err = rle_push(wfd, &r, c);
		}
		if (n < SCAN_VEC_LEN) /* only a full vector stops the scan early */
			break;
		start = a.walk_end;
	}
	for (; pos < end && !err; pos += PAGE_SIZE_4K)
		err = rle_push(wfd, &r, '-');
	close(fd);
	return rle_end(wfd, &r, err);
}

/*
 * Streams the run-length move_pages(2) statuses of [addr, addr + npages * 4K), asked with no target
 * nodes (do_pages_stat(), mm/migrate.c): 'n' the page is on a node, 'e' -ENOENT (nothing mapped),
 * 'f' -EFAULT (no VMA, or the zero page), '?' any other status. One call per chunk.
 */
static int c_move_pages(int wfd, uint64_t addr, uint64_t npages)
{
	static void *pages[PM_CHUNK];
	static int status[PM_CHUNK];
	struct rle r = { 0 };
	int err = 0;
	for (uint64_t done = 0; done < npages && !err; ) {
		uint64_t n = npages - done < PM_CHUNK ? npages - done : PM_CHUNK;
		for (uint64_t i = 0; i < n; i++)
			pages[i] = (void *)(uintptr_t)(addr + (done + i) * PAGE_SIZE_4K);
		if (syscall(SYS_move_pages, 0, (unsigned long)n, pages, NULL, status, 0) < 0)
			err = errno;
		for (uint64_t i = 0; i < n && !err; i++)
			err = rle_push(wfd, &r, status[i] >= 0 ? 'n' : status[i] == -ENOENT ? 'e' : status[i] == -EFAULT ? 'f' : '?');
		done += n;
	}
	return rle_end(wfd, &r, err);
}

/*
 * migrate: the compaction, and the count of the range's pages it moved.
 *
 * The kernel has no system call that migrates a page within its NUMA node; a write to a compact
 * file compacts the node synchronously, and compaction migrates most movable pages (which ones is
 * the kernel's choice). node0/compact compacts node 0 (sysfs_compact_node()), compact_memory every
 * node; either returns when the compaction is done, so every migration has finished and no
 * migration entry is left in the range.
 *
 * The count compares each present page's PFN (pagemap bits 0-54; they read as 0 without
 * CAP_SYS_ADMIN) before and after. The PFNs before are kept, as (page index, PFN) pairs of the
 * present pages in address order, in a memfd that is never mapped: a range of any size fits, and the
 * process's memory is neither allocated nor touched (pages of an unmapped memfd count to no RSS of
 * the process). c_mig, static and populated before the baseline, stages them.
 */
static const char *const COMPACT_PATHS[] = { "/sys/devices/system/node/node0/compact", "/proc/sys/vm/compact_memory" };
enum migrate_step { MS_NONE, MS_PAGEMAP, MS_SCRATCH, MS_COMPACT };
static const char *const MS_NAMES[] = { "", "reading /proc/self/pagemap", "the memfd that keeps the PFNs", "writing the compact file" };
#define PM_PFN_MASK ((1ULL << 55) - 1)

static uint64_t c_mig[PM_CHUNK]; /* an even count: pairs never straddle two fills */
static int c_mig_fd = -1;

/* pwrite/pread of all n bytes at pos; 0 or an errno (EIO for an early end of file). */
static int c_pio_full(int fd, bool wr, void *buf, size_t n, off_t pos)
{
	for (size_t done = 0; done < n; ) {
		ssize_t r = wr ? pwrite(fd, (char *)buf + done, n - done, pos + (off_t)done)
			       : pread(fd, (char *)buf + done, n - done, pos + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? errno : EIO;
		done += (size_t)r;
	}
	return 0;
}

/*
 * After MADV_PAGEOUT: wait until no page is under writeback (/proc/vmstat nr_writeback is 0). The
 * swap area's writes end asynchronously (a loop worker), and reclaim keeps a folio still under
 * writeback in the swap cache where it would have freed a clean one, so a later MADV_PAGEOUT or
 * mincore(2) would depend on timing. The model's writeback ends at once (src/mm/swapfile.ts).
 * Other writeback on the machine only makes the wait longer; after 10 s the runner says so.
 */
static void wait_writeback(void)
{
	for (int ms = 0; ms < 10000; ms++) {
		/* Read into the static c_buf, not through stdio: a FILE is malloc()ed, and heap the child
		   grows after its baseline shows up in VmSize and RSS (see the top). */
		if (c_read_proc("/proc/vmstat", c_buf, sizeof c_buf))
			return;
		const char *at = strstr(c_buf, "\nnr_writeback ");
		long long wb = at ? strtoll(at + 14, NULL, 10) : 0;
		if (!wb)
			return;
		usleep(1000);
	}
	fprintf(stderr, "ptlab-runner: MADV_PAGEOUT: pages still under writeback after 10 s\n");
}

/* Refills c_mig with the next pairs of the memfd ([*pos, end) still unread): *have values, 0 at the end. */
static int c_mig_refill(uint64_t *have, off_t *pos, off_t end)
{
	size_t n = (size_t)(end - *pos) < sizeof c_mig ? (size_t)(end - *pos) : sizeof c_mig;
	*have = n / sizeof c_mig[0];
	int e = c_pio_full(c_mig_fd, false, c_mig, n, *pos);
	*pos += (off_t)n;
	return e;
}

static void c_migrate(const struct cmd *c, struct resp *r)
{
	uint64_t npages = c->len / PAGE_SIZE_4K, n = 0;
	off_t end = 0;
	int e = 0;
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0) {
		r->step = MS_PAGEMAP;
		r->err = errno;
		return;
	}
	if (c_mig_fd < 0)
		c_mig_fd = memfd_create("ptlab-migrate", MFD_CLOEXEC);
	if (c_mig_fd < 0 || ftruncate(c_mig_fd, 0)) {
		r->step = MS_SCRATCH;
		r->err = errno;
		goto out;
	}

	/* Before: the present pages' pairs into the memfd. */
	for (uint64_t done = 0; done < npages; ) {
		uint64_t k = npages - done < PM_CHUNK ? npages - done : PM_CHUNK;
		if ((e = c_pm_read(pm, c->addr, done, k))) {
			r->step = MS_PAGEMAP;
			goto fail;
		}
		for (uint64_t i = 0; i < k; i++) {
			if (!(c_pm[i] & PM_PRESENT))
				continue;
			r->present++;
			c_mig[n++] = done + i;
			c_mig[n++] = c_pm[i] & PM_PFN_MASK;
			if (n == PM_CHUNK) {
				if ((e = c_pio_full(c_mig_fd, true, c_mig, sizeof c_mig, end))) {
					r->step = MS_SCRATCH;
					goto fail;
				}
				end += (off_t)sizeof c_mig;
				n = 0;
			}
		}
		done += k;
	}
	if (n && (e = c_pio_full(c_mig_fd, true, c_mig, n * sizeof c_mig[0], end))) {
		r->step = MS_SCRATCH;
		goto fail;
	}
	end += (off_t)(n * sizeof c_mig[0]);

	/* The compaction: node0/compact, else (no such file) compact_memory. */
	int cfd = open(COMPACT_PATHS[0], O_WRONLY | O_CLOEXEC);
	if (cfd < 0 && errno == ENOENT) {
		r->aux = 1;
		cfd = open(COMPACT_PATHS[1], O_WRONLY | O_CLOEXEC);
	}
	if (cfd < 0) {
		r->step = MS_COMPACT;
		r->err = errno;
		goto out;
	}
	ssize_t w;
	while ((w = write(cfd, "1", 1)) < 0 && errno == EINTR)
		;
	e = w == 1 ? 0 : w < 0 ? errno : EIO;
	close(cfd);
	if (e) {
		r->step = MS_COMPACT;
		goto fail;
	}

	/* After: each kept pair against its page's entry now, a pagemap chunk from each unmatched pair on. */
	off_t pos = 0;
	uint64_t have = 0, at = 0;
	if ((e = c_mig_refill(&have, &pos, end)))
		goto scratch;
	while (at < have) {
		uint64_t first = c_mig[at], k = npages - first < PM_CHUNK ? npages - first : PM_CHUNK;
		if ((e = c_pm_read(pm, c->addr, first, k))) {
			r->step = MS_PAGEMAP;
			goto fail;
		}
		while (at < have && c_mig[at] < first + k) {
			uint64_t now = c_pm[c_mig[at] - first];
			if (!(now & PM_PRESENT))
				r->gone++;
			else if ((now & PM_PFN_MASK) != c_mig[at + 1])
				r->moved++;
			at += 2;
			if (at == have) {
				at = 0;
				if ((e = c_mig_refill(&have, &pos, end)))
					goto scratch;
			}
		}
	}
	goto out;
scratch:
	r->step = MS_SCRATCH;
fail:
	r->err = e;
out:
	close(pm);
}

static int c_touch(uint64_t addr, uint64_t len, uint64_t stride, bool write)
{
	int sig = sigsetjmp(c_touch_env, 1);
	if (sig) {
		c_in_touch = 0;
		return -sig;
	}
	c_in_touch = 1;
	for (uint64_t o = 0; o < len; o += stride) {
		volatile char *p = (volatile char *)(uintptr_t)(addr + o);
		if (write)
			*p = 1;
		else
			(void)*p;
	}
	c_in_touch = 0;
	return 0;
}

static void __attribute__((noinline)) c_deepen_stack(void)
{
	volatile char pad[256 * 1024];
	for (size_t i = 0; i < sizeof pad; i += 4096)
		pad[i] = 0;
	pad[sizeof pad - 1] = 0;
}

static uint64_t c_hex(const char **pp)
{
	uint64_t v = 0;
	const char *p = *pp;
	for (;; p++) {
		if (*p >= '0' && *p <= '9')
			v = v * 16 + (uint64_t)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			v = v * 16 + (uint64_t)(*p - 'a' + 10);
		else
			break;
	}
	*pp = p;
	return v;
}

/* Populates every VMA the child inherited, so that no later fault touches them (see the top). */
/*
 * The process's userfaultfd, opened by its first uffd op (docs/op-scripts.md): userfaultfd(2) for
 * user-mode faults only, else /dev/userfaultfd; UFFD_FEATURE_SIGBUS, so that a missing fault in a
 * registered range is SIGBUS rather than a wait for a handler nobody runs. -1: not yet opened.
 */
static int c_uffd = -1;

static int c_uffd_open(void)
{
	if (c_uffd >= 0)
		return 0;
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd < 0) {
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		if (dev < 0)
			return errno;
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC);
		int e = errno;
		close(dev);
		if (fd < 0)
			return e;
	}
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_SIGBUS };
	if (ioctl(fd, UFFDIO_API, &api)) {
		int e = errno;
		close(fd);
		return e;
	}
	c_uffd = fd;
	return 0;
}

/*
 * The source of UFFDIO_COPY: static, so that it is populated with the rest of the process before
 * the baseline; filled with a non-zero pattern (the copied pages hold data, as in the model).
 */
static char c_src[C_SRC_SIZE] __attribute__((aligned(4096)));

/* One uffd op in the child: 0 or an errno; *unavailable set when there is no userfaultfd. */
static int c_uffd_op(const struct cmd *c, int *unavailable)
{
	int e = c_uffd_open();
	if (e) {
		*unavailable = 1;
		return e;
	}
	switch (c->op) {
	case C_UFFD_REGISTER: {
		struct uffdio_register reg = { .range = { .start = c->addr, .len = c->len }, .mode = (uint64_t)c->advice };
		return ioctl(c_uffd, UFFDIO_REGISTER, &reg) ? errno : 0;
	}
	case C_UFFD_COPY: {
		struct uffdio_copy cp = { .dst = c->addr, .src = (uint64_t)(uintptr_t)c_src, .len = c->len, .mode = 0 };
		return ioctl(c_uffd, UFFDIO_COPY, &cp) ? errno : 0;
	}
	case C_UFFD_MOVE: {
		struct uffdio_move mv = { .dst = c->addr, .src = c->newaddr, .len = c->len, .mode = (uint64_t)c->advice };
		return ioctl(c_uffd, UFFDIO_MOVE, &mv) ? errno : 0;
	}
	case C_UFFD_WRITEPROTECT: {
		struct uffdio_writeprotect wp = { .range = { .start = c->addr, .len = c->len }, .mode = (uint64_t)c->advice };
		return ioctl(c_uffd, UFFDIO_WRITEPROTECT, &wp) ? errno : 0;
	}
	default: {
		struct uffdio_zeropage zp = { .range = { .start = c->addr, .len = c->len }, .mode = 0 };
		return ioctl(c_uffd, UFFDIO_ZEROPAGE, &zp) ? errno : 0;
	}
	}
}

/*
 * TCP zerocopy receive: `map M tcp` and `tcp_zerocopy`.
 *
 * A `map M tcp` opens a loopback connection in the child (listen on 127.0.0.1, port 0; connect;
 * accept) and mmaps the accepted socket, which receives; the connecting socket sends. Both stay open
 * until the process exits; the parent keeps their numbers with the mapping.
 *
 * TCP_ZEROCOPY_RECEIVE maps only frags that are a whole order-0 page at offset 0 with no ->mapping
 * (can_map_frag() in net/ipv4/tcp.c, 6.18) and stops at the first other one, leaving the rest to
 * read(). Two things make every received frag such a page on loopback, as in the kernel selftest
 * tools/testing/selftests/net/tcp_mmap.c:
 *   - MSG_ZEROCOPY on the sender. A plain send() copies into the socket's page_frag, order-3
 *     compound pages that are never mappable (measured: 0 of 64K mapped). The frags of a
 *     MSG_ZEROCOPY skb are copied when loopback delivers it, by skb_copy_ubufs() (net/core/skbuff.c),
 *     into fresh order-0 pages packed from offset 0 (order 0 while the skb holds at most
 *     MAX_SKB_FRAGS pages: lo's gso_max_size of 64K keeps it so).
 *   - A TCP payload of exactly 4096 bytes per segment (TCP_MAXSEG 4096 + 12 for the timestamp
 *     option): every skb then carries a multiple of 4K, so the last packed page is full too. Without
 *     it, 28K or 60K of 64K mapped. A connection that gets another MSS (timestamps off) is made
 *     again once with the difference taken off TCP_MAXSEG.
 * The sender's MSG_ZEROCOPY completions are read off its error queue and dropped.
 *
 * All LEN bytes must be queued before the call. SO_RCVBUFFORCE of 64M (sk_rcvbuf 128M; without
 * CAP_NET_ADMIN, SO_RCVBUF capped by net.core.rmem_max) keeps TCP from collapsing the queue into
 * linear copies (tcp_prune_queue()): 96M went through on a 6.18.44 machine, 128M stalled; hence
 * TCP_ZC_MAX. The sent data is c_src, the uffd_copy source, from its start, wrapping every 2M.
 */
enum tcp_step { TS_NONE, TS_SOCKET, TS_SOCKOPT, TS_BIND, TS_LISTEN, TS_CONNECT, TS_ACCEPT, TS_MSS, TS_SEND, TS_WAIT, TS_DRAIN };
static const char *const TS_NAMES[] = {
	"", "socket", "setsockopt", "bind", "listen", "connect", "accept", "getsockopt TCP_MAXSEG", "send",
	"waiting for the data", "reading the bytes not mapped",
};
#define ZC_MSS 4096
#define ZC_BUF (64 << 20)
#define ZC_TIMEOUT_MS 10000

/* struct tcp_zerocopy_receive of include/uapi/linux/tcp.h (6.18): glibc's has only its first 3 fields. */
struct c_tcp_zc {
	uint64_t address;
	uint32_t length, recv_skip_hint, inq;
	int32_t err;
	uint64_t copybuf_address;
	int32_t copybuf_len;
	uint32_t flags;
	uint64_t msg_control, msg_controllen;
	uint32_t msg_flags, reserved;
};

static int64_t c_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A socket buffer of ZC_BUF: SO_*BUFFORCE, else (no CAP_NET_ADMIN) the plain option. 0 or -1. */
static int c_sockbuf(int fd, int force, int plain)
{
	int v = ZC_BUF;
	if (!setsockopt(fd, SOL_SOCKET, force, &v, sizeof v))
		return 0;
	return errno == EPERM && !setsockopt(fd, SOL_SOCKET, plain, &v, sizeof v) ? 0 : -1;
}

/* Opens the connection of a `map M tcp` into r->rfd and r->sfd: TS_NONE, or the step that failed
   (r->err its errno; for TS_MSS with r->err 0, r->got is the MSS the second try got). */
static int c_tcp_pair(struct resp *r)
{
	int mss = ZC_MSS + 12, on = 1;
	for (int attempt = 0; attempt < 2; attempt++) {
		int l = -1, s = -1, a = -1, step = TS_NONE;
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof sin;
		if ((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		    (s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			step = TS_SOCKET;
		else if (c_sockbuf(l, SO_RCVBUFFORCE, SO_RCVBUF) || c_sockbuf(s, SO_SNDBUFFORCE, SO_SNDBUF) ||
			 setsockopt(l, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss) ||
			 setsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss) ||
			 setsockopt(s, SOL_SOCKET, SO_ZEROCOPY, &on, sizeof on))
			step = TS_SOCKOPT;
		else if (bind(l, (struct sockaddr *)&sin, sizeof sin))
			step = TS_BIND;
		else if (listen(l, 1) || getsockname(l, (struct sockaddr *)&sin, &sl))
			step = TS_LISTEN;
		else if (connect(s, (struct sockaddr *)&sin, sizeof sin))
			step = TS_CONNECT;
		else if ((a = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
			step = TS_ACCEPT;
		int e = errno, got = 0;
		socklen_t gl = sizeof got;
		if (!step && getsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &got, &gl)) {
			step = TS_MSS;
			e = errno;
		}
		if (l >= 0)
			close(l);
		if (!step && got == ZC_MSS) {
			r->rfd = a;
			r->sfd = s;
			return TS_NONE;
		}
		if (s >= 0)
			close(s);
		if (a >= 0)
			close(a);
		if (step) {
			r->err = e;
			return step;
		}
		r->got = (uint32_t)got;
		mss += ZC_MSS - got;
	}
	r->err = 0;
	return TS_MSS;
}

/* Reads the sender's MSG_ZEROCOPY completions off its error queue and drops them. */
static void c_tcp_errqueue(int sfd)
{
	char ctl[128];
	for (;;) {
		struct msghdr m = { .msg_control = ctl, .msg_controllen = sizeof ctl };
		if (recvmsg(sfd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
	}
}

/*
 * tcp_zerocopy: the sender sends c->len bytes, and once the receive queue holds them all,
 * TCP_ZEROCOPY_RECEIVE at c->addr for c->len bytes (no copybuf, flags 0): r->err its errno,
 * r->got and r->hint its zc.length and zc.recv_skip_hint. Whatever it did not map is read, so the
 * next call starts at an empty queue. r->step says which step of the runner's own failed.
 */
static void c_tcp_zerocopy(const struct cmd *c, struct resp *r)
{
	int64_t deadline = c_ms() + ZC_TIMEOUT_MS;
	uint64_t sent = 0;
	while (sent < c->len) {
		uint64_t off = sent % C_SRC_SIZE;
		size_t n = (size_t)(c->len - sent < C_SRC_SIZE - off ? c->len - sent : C_SRC_SIZE - off);
		ssize_t w = send(c->sfd, c_src + off, n, MSG_ZEROCOPY | MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w >= 0) {
			sent += (uint64_t)w;
			continue;
		}
		/* ENOBUFS: the completions not yet read hold the socket's optmem. */
		if ((errno != EAGAIN && errno != ENOBUFS && errno != EINTR) || c_ms() > deadline) {
			r->step = TS_SEND;
			r->err = errno == EAGAIN || errno == ENOBUFS || errno == EINTR ? 0 : errno;
			r->got = (uint32_t)sent;
			return;
		}
		c_tcp_errqueue(c->sfd);
		struct pollfd p = { .fd = c->sfd, .events = POLLOUT };
		poll(&p, 1, 10);
	}
	c_tcp_errqueue(c->sfd);
	int inq = 0;
	for (;;) {
		if (ioctl(c->fd, SIOCINQ, &inq)) {
			r->step = TS_WAIT;
			r->err = errno;
			return;
		}
		if ((uint64_t)inq >= c->len)
			break;
		if (c_ms() > deadline) {
			r->step = TS_WAIT;
			r->got = (uint32_t)inq;
			return;
		}
		usleep(1000);
	}
	struct c_tcp_zc zc;
	memset(&zc, 0, sizeof zc);
	zc.address = c->addr;
	zc.length = (uint32_t)c->len;
	socklen_t zl = sizeof zc;
	r->err = getsockopt(c->fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &zl) ? errno : 0;
	r->got = zc.length;
	r->hint = zc.recv_skip_hint;
	for (;;) {
		if (ioctl(c->fd, SIOCINQ, &inq)) {
			r->step = TS_DRAIN;
			r->err = errno;
			return;
		}
		if (inq == 0)
			break;
		ssize_t n = read(c->fd, c_buf, (size_t)inq < sizeof c_buf ? (size_t)inq : sizeof c_buf);
		if (n <= 0) {
			r->step = TS_DRAIN;
			r->err = n < 0 ? errno : 0;
			r->hint = (uint32_t)inq;
			return;
		}
	}
	c_tcp_errqueue(c->sfd);
}

/*
 * The VMAs a child had when it warmed itself up (libc, stack, buffers): a child made by `fork`
 * warms these again (fork() copies no PTEs of text), and no VMA of the script's.
 */
static struct { uint64_t start, end; int advice; } c_own[512];
static int c_nown;

static void c_populate_own(void)
{
	for (int i = 0; i < c_nown; i++)
		madvise((void *)(uintptr_t)c_own[i].start, c_own[i].end - c_own[i].start, c_own[i].advice);
}

static void c_populate_all(void)
{
	if (c_read_proc("/proc/self/maps", c_buf, sizeof c_buf))
		return;
	for (const char *p = c_buf; p && *p; ) {
		const char *eol = strchr(p, '\n');
		const char *q = p;
		uint64_t start = c_hex(&q);
		q++;
		uint64_t end = c_hex(&q);
		q++;
		char r = q[0], w = q[1], s = q[3];
		bool special = false;
		for (const char *x = q; x && *x && x != eol; x++)
			if (!strncmp(x, "[vsyscall]", 10) || !strncmp(x, "[vvar", 5))
				special = true;
		if (r == 'r' && !special && end > start) {
			int advice = w == 'w' && s == 'p' ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;
			madvise((void *)(uintptr_t)start, end - start, advice);
			if (c_nown < (int)(sizeof c_own / sizeof c_own[0]))
				c_own[c_nown++] = (typeof(c_own[0])){ start, end, advice };
		}
		p = eol ? eol + 1 : NULL;
	}
}

static void __attribute__((noreturn)) child_main(int cmd_r, int resp_w, pid_t parent)
{
	int fork_fds[2] = { -1, -1 }; /* C_FORK: the ends the runner takes, until C_FORK_DONE */
	/* The parent's handlers would clean up the parent's resources: drop them first. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = c_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	c_deepen_stack();
	/* No THP for the source buffer: a fresh process must show AnonHugePages 0 (docs/op-scripts.md). */
	madvise(c_src, sizeof c_src, MADV_NOHUGEPAGE);
	memset(c_src, 0xa5, sizeof c_src);
	c_populate_all();

	struct resp r;
	memset(&r, 0, sizeof r);
	r.err = c_measure(r.v);
	if (write_full(resp_w, &r, sizeof r))
		_exit(1);

	for (;;) {
		struct cmd c;
		if (read_full(cmd_r, &c, sizeof c))
			_exit(0); /* EOF: `exit P` or the end of the script */
		memset(&r, 0, sizeof r);
		void *a = (void *)(uintptr_t)c.addr;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		switch (c.op) {
		case C_MAP: {
			r.rfd = r.sfd = -1;
			if (c.tcp && (r.step = c_tcp_pair(&r)))
				break;
			void *p = mmap(a, c.len, c.prot, c.flags | MAP_FIXED_NOREPLACE, c.tcp ? r.rfd : c.fd, (off_t)c.off);
			if (p == MAP_FAILED) {
				r.err = errno;
			} else if (p != a) { /* kernels before 4.17 treat the flag as a hint */
				munmap(p, c.len);
				r.err = EEXIST;
			} else {
				r.aux = 1;
				if (c.huge && madvise(a, c.len, c.huge))
					r.err = errno;
				else if (c.locked && mlock(a, c.len))
					r.err = errno;
			}
			if (c.tcp && !r.aux) { /* no mapping: no connection either */
				close(r.rfd);
				close(r.sfd);
				r.rfd = r.sfd = -1;
			}
			break;
		}
		case C_TOUCH:
			r.err = c_touch(c.addr, c.len, c.stride, c.write);
			break;
		case C_MADVISE:
			r.err = madvise(a, c.len, c.advice) ? errno : 0;
			if (!r.err && c.advice == MADV_PAGEOUT)
				wait_writeback();
			break;
		case C_MUNMAP:
			r.err = munmap(a, c.len) ? errno : 0;
			break;
		case C_MLOCK:
			r.err = mlock2(a, c.len, c.flags) ? errno : 0;
			break;
		case C_MUNLOCK:
			r.err = munlock(a, c.len) ? errno : 0;
			break;
		case C_MPROTECT:
			r.err = mprotect(a, c.len, c.prot) ? errno : 0;
			break;
		case C_MREMAP: {
			/*
			 * `maymove` without at=: grow in place if the kernel can, else move to the placement
			 * slot the parent chose (MREMAP_FIXED there, which is empty), so both executors agree.
			 */
			void *p = c.flags == MREMAP_MAYMOVE ? mremap(a, c.len, c.newlen, 0)
							  : mremap(a, c.len, c.newlen, c.flags, (void *)(uintptr_t)c.newaddr);
			if (p == MAP_FAILED && c.flags == MREMAP_MAYMOVE && errno == ENOMEM)
				p = mremap(a, c.len, c.newlen, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(uintptr_t)c.newaddr);
			r.err = p == MAP_FAILED ? errno : 0;
			r.addr = (uint64_t)(uintptr_t)p;
			break;
		}
		case C_SNAPSHOT:
			r.err = c_measure(r.v);
			break;
		case C_UFFD_REGISTER:
		case C_UFFD_COPY:
		case C_UFFD_ZEROPAGE:
		case C_UFFD_WRITEPROTECT:
		case C_UFFD_MOVE:
			r.err = c_uffd_op(&c, &r.aux);
			break;
		case C_TCP_ZEROCOPY:
			c_tcp_zerocopy(&c, &r);
			break;
		case C_MIGRATE:
			c_migrate(&c, &r);
			break;
		case C_FORK: {
			/*
			 * The forked process answers over pipes of its own. The runner opens their other
			 * ends through /proc/PID/fd of this process (C_FORK_DONE then closes ours), so
			 * that no process but the runner holds them: the child sees EOF when the runner
			 * closes its command pipe, or dies. Its own children are reaped for us (SIGCHLD
			 * ignored): the runner cannot wait for a grandchild.
			 */
			int cq[2], rq[2];
			if (pipe2(cq, O_CLOEXEC)) {
				r.err = errno;
				break;
			}
			if (pipe2(rq, O_CLOEXEC)) {
				r.err = errno;
				close(cq[0]);
				close(cq[1]);
				break;
			}
			signal(SIGCHLD, SIG_IGN);
			pid_t q = fork();
			if (q == 0) {
				close(cmd_r);
				close(resp_w);
				close(cq[1]);
				close(rq[0]);
				cmd_r = cq[0];
				resp_w = rq[1];
				/* Its baseline, after it warmed the runner's own VMAs again (see the top). */
				c_populate_own();
				memset(&r, 0, sizeof r);
				r.err = c_measure(r.v);
				if (write_full(resp_w, &r, sizeof r))
					_exit(1);
				continue;
			}
			close(cq[0]);
			close(rq[1]);
			if (q < 0) {
				r.err = errno;
				close(cq[1]);
				close(rq[0]);
				break;
			}
			fork_fds[0] = cq[1];
			fork_fds[1] = rq[0];
			r.aux = q;
			r.rfd = cq[1];
			r.sfd = rq[0];
			break;
		}
		case C_FORK_DONE:
			close(fork_fds[0]);
			close(fork_fds[1]);
			break;
		default:
			r.err = ENOSYS;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		r.ns = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
		if (write_full(resp_w, &r, sizeof r))
			_exit(1);
		if (c.op == C_SNAPSHOT && c.has_range && !r.err &&
		    (c_pagemap(resp_w, c.addr, c.len / PAGE_SIZE_4K) ||
		     (c.len / PAGE_SIZE_4K <= MINCORE_MAX_PAGES && c_mincore(resp_w, c.addr, c.len / PAGE_SIZE_4K)) ||
		     (have_move_pages && c.len / PAGE_SIZE_4K <= MOVE_PAGES_MAX_PAGES &&
		      c_move_pages(resp_w, c.addr, c.len / PAGE_SIZE_4K)) ||
		     (have_pagemap_scan && c.len / PAGE_SIZE_4K <= MINCORE_MAX_PAGES &&
		      c_pagemap_scan(resp_w, c.addr, c.len / PAGE_SIZE_4K))))
			_exit(1);
	}
}

/* ------------------------------------------------------------------------------------------------
 * Parent side.
 */
static int find_proc(const char *name)
{
	for (int i = 0; i < nprocs; i++)
		if (!strcmp(procs[i].name, name))
			return i;
	return -1;
}

static int find_file(const char *name)
{
	for (int i = 0; i < nfiles; i++)
		if (!strcmp(files[i].name, name))
			return i;
	return -1;
}

static void __attribute__((noreturn)) child_died(struct proc *p, int line, int how)
{
	int status = 0;
	const char *what = how == -1 ? "closed its pipe" : strerror(how);
	if (waitpid(p->pid, &status, 0) == p->pid) {
		p->alive = false;
		if (WIFSIGNALED(status))
			die(EXIT_INTERNAL, line, "process %s (pid %d) was killed by signal %d (%s)", p->name,
			    (int)p->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
		die(EXIT_INTERNAL, line, "process %s (pid %d) exited with status %d", p->name, (int)p->pid,
		    WEXITSTATUS(status));
	}
	die(EXIT_INTERNAL, line, "process %s: %s", p->name, what);
}

/* PTLAB_RUNNER_TIMING=1: how long each operation took in the child, or in the parent for
 * `swapoff` (for `ptlab bench`). */
static void print_timing(int line, int64_t ns)
{
	static int timing = -1;
	if (timing < 0) {
		const char *t = getenv("PTLAB_RUNNER_TIMING");
		timing = t && *t == '1';
	}
	if (timing)
		printf("{\"type\":\"timing\",\"line\":%d,\"ns\":%" PRId64 "}\n", line, ns);
}

static void send_cmd(struct proc *p, int line, const struct cmd *c, struct resp *r)
{
	int e = write_full(p->cmd_w, c, sizeof *c);
	if (e)
		child_died(p, line, e);
	e = read_full(p->resp_r, r, sizeof *r);
	if (e)
		child_died(p, line, e);
	print_timing(line, r->ns);
}

/* A new process of the script (`process`, `fork`), with its pipe ends: its baseline is its first answer. */
static struct proc *add_proc(const struct op *o, pid_t pid, int cmd_w, int resp_r)
{
	struct proc *p = &procs[nprocs++];
	memset(p, 0, sizeof *p);
	p->name = o->name;
	p->pid = pid;
	p->cmd_w = cmd_w;
	p->resp_r = resp_r;
	p->alive = true;
	struct resp r;
	int e = read_full(p->resp_r, &r, sizeof r);
	if (e)
		child_died(p, o->line, e);
	if (r.err)
		die(EXIT_INTERNAL, o->line, "process %s: reading its baseline: %s", p->name, strerror(r.err));
	memcpy(p->base, r.v, sizeof p->base);
	return p;
}

static void spawn(const struct op *o)
{
	if (find_proc(o->name) >= 0)
		die(EXIT_USAGE, o->line, "process %s already exists", o->name);
	int cmdp[2], respp[2];
	if (pipe2(cmdp, O_CLOEXEC) || pipe2(respp, O_CLOEXEC))
		die(EXIT_INTERNAL, o->line, "pipe: %s", strerror(errno));
	fflush(stdout);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		die(EXIT_INTERNAL, o->line, "fork: %s", strerror(errno));
	if (pid == 0) {
		for (int i = 0; i < nprocs; i++) {
			if (procs[i].alive) {
				close(procs[i].cmd_w);
				close(procs[i].resp_r);
			}
		}
		close(cmdp[1]);
		close(respp[0]);
		child_main(cmdp[0], respp[1], parent);
	}
	close(cmdp[0]);
	close(respp[1]);
	add_proc(o, pid, cmdp[1], respp[0]);
}

/* Asks a child to exit by closing its command pipe, and reaps it. */
static void reap(struct proc *p, int line)
{
	close(p->cmd_w);
	if (p->forked) {
		/* Not our child: it has ended when its end of the response pipe closes. */
		char b;
		ssize_t n;
		while ((n = read(p->resp_r, &b, 1)) > 0 || (n < 0 && errno == EINTR))
			;
		close(p->resp_r);
		p->alive = false;
		return;
	}
	close(p->resp_r);
	int status;
	if (waitpid(p->pid, &status, 0) != p->pid)
		die(EXIT_INTERNAL, line, "waitpid %s: %s", p->name, strerror(errno));
	p->alive = false;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die(EXIT_INTERNAL, line, "process %s ended abnormally (wait status 0x%x)", p->name, status);
}

/* A new entry of `maps`: one per map op, and a copy of each of the parent's per `fork`. */
static struct mapping *new_mapping(int line)
{
	if (nmaps == maps_cap) {
		struct mapping *n = realloc(maps, (size_t)maps_cap * 2 * sizeof *maps);
		if (!n)
			die(EXIT_INTERNAL, line, "out of memory");
		maps = n;
		maps_cap *= 2;
	}
	struct mapping *m = &maps[nmaps++];
	memset(m, 0, sizeof *m);
	return m;
}

/*
 * fork P Q: the child that runs P forks; the new process is Q, with P's mappings under the same
 * names and P's placement count. Q's baseline is measured in Q right after the fork (its deltas
 * count from there, as the model's), once it has warmed the runner's own VMAs again. The
 * validators refuse a P with tcp mappings or userfaultfd (src/script/parse.ts, forkOp()).
 */
static void do_fork(const struct op *o)
{
	int pi = find_proc(o->ref);
	if (pi < 0 || !procs[pi].alive)
		die(EXIT_USAGE, o->line, "%s process %s", pi < 0 ? "unknown" : "exited", o->ref);
	if (find_proc(o->name) >= 0)
		die(EXIT_USAGE, o->line, "process %s already exists", o->name);
	struct proc *p = &procs[pi];
	struct cmd c;
	memset(&c, 0, sizeof c);
	c.op = C_FORK;
	struct resp r;
	send_cmd(p, o->line, &c, &r);
	if (r.err)
		die(EXIT_INTERNAL, o->line, "fork in process %s: %s", p->name, strerror(r.err));
	pid_t pid = r.aux;
	int ends[2] = { -1, -1 };
	for (int i = 0; i < 2; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)p->pid, i ? r.sfd : r.rfd);
		/* O_NONBLOCK: a pipe opened through /proc waits for its other end like a FIFO; the
		 * child holds it, or has died (then ENXIO rather than a hang). */
		ends[i] = open(path, (i ? O_RDONLY : O_WRONLY) | O_NONBLOCK | O_CLOEXEC);
		if (ends[i] < 0 || fcntl(ends[i], F_SETFL, 0))
			die(EXIT_INTERNAL, o->line, "fork: opening %s of process %s: %s", path, p->name, strerror(errno));
	}
	memset(&c, 0, sizeof c);
	c.op = C_FORK_DONE;
	send_cmd(p, o->line, &c, &r);
	struct proc *q = add_proc(o, pid, ends[0], ends[1]);
	q->forked = true;
	q->nmaps = p->nmaps;
	for (int i = 0, n = nmaps; i < n; i++) {
		if (maps[i].proc != pi)
			continue;
		struct mapping *m = new_mapping(o->line);
		*m = maps[i];
		m->proc = nprocs - 1;
	}
}

static const struct mapping *find_map(int cur, const struct op *o)
{
	const struct mapping *m = NULL;
	for (int i = 0; i < nmaps; i++)
		if (maps[i].proc == cur && !strcmp(maps[i].name, o->ref))
			m = &maps[i];
	if (!m) {
		for (int i = 0; i < nmaps; i++)
			if (!strcmp(maps[i].name, o->ref))
				die(EXIT_USAGE, o->line, "mapping %s belongs to process %s, not to the current process %s",
				    o->ref, procs[maps[i].proc].name, procs[cur].name);
		die(EXIT_USAGE, o->line, "unknown mapping %s", o->ref);
	}
	if (o->offset % PAGE_SIZE_4K || o->len % PAGE_SIZE_4K || o->offset > m->size || o->len > m->size - o->offset)
		die(EXIT_USAGE, o->line, "range [0x%" PRIx64 ", +0x%" PRIx64 ") is not 4K aligned inside mapping %s (size 0x%" PRIx64 ")",
		    o->offset, o->len, m->name, m->size);
	return m;
}

static void check_outcome(const struct op *o, const char *what, int got)
{
	if (got == o->err)
		return;
	char want[48];
	snprintf(want, sizeof want, "%s", err_name(o->err));
	die(EXIT_MISMATCH, o->line, "%s: got %s, expected %s", what, err_name(got), want);
}

static void print_fields(const char *key, const int64_t *v, const int64_t *base, int from, int to)
{
	printf(",\"%s\":{", key);
	for (int i = from; i < to; i++)
		printf("%s\"%s\":%" PRId64, i > from ? "," : "", FIELD_NAMES[i], v[i] - (base ? base[i] : 0));
	putchar('}');
}

/* Prints one stream of run-length page codes from the child (c_pagemap(), c_mincore(), c_move_pages()). */
static void print_runs(struct proc *p, const struct op *o, const char *what, const char *source)
{
	bool first = true;
	static uint64_t runs[RUN_CHUNK];
	for (;;) {
		struct chunk_hdr h;
		int e = read_full(p->resp_r, &h, sizeof h);
		if (e)
			child_died(p, o->line, e);
		if (h.n > RUN_CHUNK)
			die(EXIT_INTERNAL, o->line, "snapshot: bad %s chunk", what);
		if (h.n == 0) {
			if (h.err) {
				printf("]}}\n");
				die(EXIT_INTERNAL, o->line, "snapshot: %s: %s", source, strerror(h.err));
			}
			return;
		}
		e = read_full(p->resp_r, runs, h.n * sizeof runs[0]);
		if (e)
			child_died(p, o->line, e);
		for (uint32_t i = 0; i < h.n; i++) {
			printf("%s[%" PRIu64 ",\"%c\"]", first ? "" : ",", runs[i] >> 8, (char)(runs[i] & 0xff));
			first = false;
		}
	}
}

static void do_snapshot(int cur, const struct op *o)
{
	struct proc *p = &procs[cur];
	const struct mapping *m = o->ref ? find_map(cur, o) : NULL;
	struct cmd c;
	memset(&c, 0, sizeof c);
	c.op = C_SNAPSHOT;
	if (m) {
		c.has_range = 1;
		c.addr = m->addr + o->offset;
		c.len = o->len;
	}
	struct resp r;
	send_cmd(p, o->line, &c, &r);
	if (r.err)
		die(EXIT_INTERNAL, o->line, "snapshot: reading /proc/self: %s", strerror(r.err));
	for (int i = 0; i < NV; i++)
		if (r.v[i] < 0)
			die(EXIT_INTERNAL, o->line, "snapshot: %s missing from /proc/self", FIELD_NAMES[i]);
	memcpy(p->last, r.v, sizeof p->last);
	p->has_last = true;

	printf("{\"type\":\"snapshot\",\"line\":%d,\"label\":", o->line);
	json_str(o->name);
	printf(",\"process\":");
	json_str(p->name);
	print_fields("status", r.v, NULL, 0, NSTATUS);
	print_fields("delta", r.v, p->base, 0, NSTATUS);
	printf(",\"smaps_rollup\":{\"Rss\":%" PRId64, r.v[F_ROLLUP_RSS] - p->base[F_ROLLUP_RSS]);
	for (int i = F_FIRST_HUGE; i < NV; i++)
		printf(",\"%s\":%" PRId64, FIELD_NAMES[i], r.v[i]);
	putchar('}');
	if (m) {
		printf(",\"pagemap\":{\"map\":");
		json_str(m->name);
		printf(",\"offset\":%" PRIu64 ",\"pages\":%" PRIu64 ",\"runs\":[", o->offset, o->len / PAGE_SIZE_4K);
		print_runs(p, o, "pagemap", "/proc/self/pagemap");
		if (o->len / PAGE_SIZE_4K <= MINCORE_MAX_PAGES) {
			printf("],\"mincore\":[");
			print_runs(p, o, "mincore", "mincore()");
		}
		if (have_move_pages && o->len / PAGE_SIZE_4K <= MOVE_PAGES_MAX_PAGES) {
			printf("],\"move_pages\":[");
			print_runs(p, o, "move_pages", "move_pages()");
		}
		if (have_pagemap_scan && o->len / PAGE_SIZE_4K <= MINCORE_MAX_PAGES) {
			printf("],\"scan\":[");
			print_runs(p, o, "scan", "PAGEMAP_SCAN");
		}
		printf("]}");
	}
	printf("}\n");
	fflush(stdout);
}

/*
 * The kernel reports the status fields and smaps_rollup Rss as absolute values of a process that
 * did not start empty, so only their `delta` forms are checked. The smaps_rollup huge fields are 0
 * in a fresh child, so their absolute and delta forms agree and both are checked. The model-only
 * counters have no kernel source and are reported as skipped.
 */
static void do_expect(int cur, const struct op *o)
{
	struct proc *p = &procs[cur];
	if (!p->has_last)
		die(EXIT_USAGE, o->line, "expect: process %s has no snapshot yet", p->name);
	printf("{\"type\":\"expect\",\"line\":%d,\"field\":\"%s\",\"delta\":%s,\"cmp\":\"%s\",\"want\":%lld",
	       o->line, FIELD_NAMES[o->field], o->delta ? "true" : "false", CMP_NAMES[o->cmp], o->value);
	const char *skip = NULL;
	int64_t seen = 0;
	bool have_seen = false;
	if (o->field >= F_FIRST_MODEL) {
		skip = "model-only field";
	} else if (o->delta) {
		seen = p->last[o->field] - p->base[o->field];
		have_seen = true;
	} else if (o->field >= F_FIRST_HUGE) {
		seen = p->last[o->field];
		have_seen = true;
	} else {
		seen = p->last[o->field];
		have_seen = true;
		skip = "absolute value of a field that does not start at 0 on the kernel: only delta is checked";
	}
	if (have_seen)
		printf(",\"seen\":%" PRId64, seen);
	if (skip) {
		printf(",\"ok\":true,\"skipped\":");
		json_str(skip);
		printf("}\n");
		fflush(stdout);
		return;
	}
	bool ok;
	long long s = (long long)seen, w = o->value;
	switch (o->cmp) {
	case CMP_EQ: ok = s == w; break;
	case CMP_LE: ok = s <= w; break;
	case CMP_GE: ok = s >= w; break;
	case CMP_LT: ok = s < w; break;
	case CMP_GT: ok = s > w; break;
	default: ok = s != w; break;
	}
	printf(",\"ok\":%s}\n", ok ? "true" : "false");
	fflush(stdout);
	if (!ok)
		die(EXIT_MISMATCH, o->line, "expect %s%s %s %lld: saw %lld", FIELD_NAMES[o->field],
		    o->delta ? " delta" : "", CMP_NAMES[o->cmp], w, s);
}

/*
 * A step of the runner's own TCP setup failed (c_tcp_pair(), c_tcp_zerocopy()): exit 3 when the
 * machine has no loopback TCP, else 4.
 */
static void __attribute__((noreturn)) tcp_failed(const struct op *o, int step, int err, uint32_t got, uint32_t hint)
{
	char what[160];
	snprintf(what, sizeof what, o->kind == K_MAP ? "map %s tcp" : "tcp_zerocopy %s", o->kind == K_MAP ? o->name : o->ref);
	const char *name = step > 0 && step < (int)(sizeof TS_NAMES / sizeof TS_NAMES[0]) ? TS_NAMES[step] : "?";
	if ((step == TS_SOCKET || step == TS_BIND || step == TS_CONNECT) &&
	    (err == EAFNOSUPPORT || err == EPROTONOSUPPORT || err == EADDRNOTAVAIL || err == ENETUNREACH))
		die(EXIT_SKIP, o->line, "%s: no loopback TCP on this machine: %s: %s", what, name, strerror(err));
	if (step == TS_MSS && !err)
		die(EXIT_INTERNAL, o->line, "%s: the sender's MSS is %" PRIu32 " bytes, not %d, after setting TCP_MAXSEG twice; TCP_ZEROCOPY_RECEIVE would not map whole pages",
		    what, got, ZC_MSS);
	if (step == TS_SEND && !err)
		die(EXIT_INTERNAL, o->line, "%s: the sender sent %" PRIu32 " of %" PRIu64 " bytes in %d s", what, got, o->len, ZC_TIMEOUT_MS / 1000);
	if (step == TS_WAIT && !err)
		die(EXIT_INTERNAL, o->line, "%s: the receive queue holds %" PRIu32 " of %" PRIu64 " bytes after %d s", what, got, o->len, ZC_TIMEOUT_MS / 1000);
	if (step == TS_DRAIN && !err)
		die(EXIT_INTERNAL, o->line, "%s: %s: end of stream with %" PRIu32 " bytes still queued", what, name, hint);
	die(EXIT_INTERNAL, o->line, "%s: %s: %s", what, name, strerror(err));
}

static void do_map(int cur, const struct op *o)
{
	struct proc *p = &procs[cur];
	struct cmd c;
	memset(&c, 0, sizeof c);
	c.op = C_MAP;
	uint64_t k = (uint64_t)p->nmaps++;
	c.addr = o->has_at ? o->at : PLACEMENT_BASE + k * PLACEMENT_STRIDE;
	if (!o->has_at && o->len > PLACEMENT_STRIDE)
		die(EXIT_USAGE, o->line, "a mapping without at= may be at most 1 TiB");
	c.len = o->len;
	c.huge = o->huge;
	c.locked = o->locked;
	c.prot = o->prot;
	c.fd = -1;
	int f = -1;
	if (o->mkind == MK_ANON) {
		c.flags = (o->shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_NORESERVE;
	} else if (o->mkind == MK_TCP) {
		c.flags = MAP_SHARED;
		c.tcp = 1;
	} else {
		f = find_file(o->ref);
		if (f < 0)
			die(EXIT_USAGE, o->line, "unknown %s %s", o->mkind == MK_SHMEM ? "memfd" : "file", o->ref);
		if (files[f].regular != (o->mkind == MK_FILE))
			die(EXIT_USAGE, o->line, "%s is a %s, not a %s", o->ref, files[f].regular ? "file" : "memfd",
			    o->mkind == MK_FILE ? "file" : "memfd");
		c.fd = files[f].fd;
		c.off = o->offset;
		c.flags = o->shared ? MAP_SHARED : MAP_PRIVATE;
	}
	struct resp r;
	send_cmd(p, o->line, &c, &r);
	if (r.step)
		tcp_failed(o, r.step, r.err, r.got, r.hint);
	if (r.aux) {
		struct mapping *m = new_mapping(o->line);
		m->name = o->name;
		m->proc = cur;
		m->addr = c.addr;
		m->size = o->len;
		m->tcp = o->mkind == MK_TCP;
		m->rfd = r.rfd;
		m->sfd = r.sfd;
		m->file = f;
		m->foff = o->offset;
	}
	check_outcome(o, "map", r.err);
}

/*
 * tcp_zerocopy M OFFSET LEN: the outcome is 0 when TCP_ZEROCOPY_RECEIVE returned 0 and mapped all
 * LEN bytes, else its errno. A call that returned 0 having mapped less is not an outcome the model
 * has: the run stops as the runner's failure (exit 4).
 */
static void do_tcp_zerocopy(int cur, const struct op *o)
{
	const struct mapping *m = find_map(cur, o);
	if (!m->tcp)
		die(EXIT_USAGE, o->line, "tcp_zerocopy: mapping %s is not a tcp mapping (expected one made by map %s tcp SIZE)",
		    m->name, m->name);
	struct cmd c;
	memset(&c, 0, sizeof c);
	c.op = C_TCP_ZEROCOPY;
	c.addr = m->addr + o->offset;
	c.len = o->len;
	c.fd = m->rfd;
	c.sfd = m->sfd;
	struct resp r;
	send_cmd(&procs[cur], o->line, &c, &r);
	if (r.step)
		tcp_failed(o, r.step, r.err, r.got, r.hint);
	if (!r.err && r.got != o->len)
		die(EXIT_INTERNAL, o->line,
		    "tcp_zerocopy %s: TCP_ZEROCOPY_RECEIVE returned 0 but mapped %" PRIu32 " of %" PRIu64 " bytes (recv_skip_hint %" PRIu32 "): %s",
		    m->name, r.got, o->len, r.hint,
		    r.hint ? "the received data was not all in whole, page-aligned page frags; the runner cannot reproduce the model's outcome"
			   : "the VMA at the offset ends before offset + length; the runner cannot reproduce the model's outcome");
	check_outcome(o, "tcp_zerocopy", r.err);
}

/*
 * migrate M OFFSET LEN: the child compacts the node (c_migrate()). The op has no outcome (no err=):
 * it only fails when the runner cannot do its part, which stops the run: exit 3 when this machine
 * cannot compact (no compact file, or not root), else 4. How many of the range's present pages
 * moved goes to stderr, for a human: no snapshot field reports it, since a migration changes none.
 */
static void do_migrate(int cur, const struct op *o)
{
	const struct mapping *m = find_map(cur, o);
	struct cmd c;
	memset(&c, 0, sizeof c);
	c.op = C_MIGRATE;
	c.addr = m->addr + o->offset;
	c.len = o->len;
	struct resp r;
	send_cmd(&procs[cur], o->line, &c, &r);
	if (r.step == MS_COMPACT) {
		const char *path = COMPACT_PATHS[r.aux ? 1 : 0];
		if (r.err == ENOENT)
			die(EXIT_SKIP, o->line, "migrate: no compaction on this machine: neither %s nor %s exists (kernel without CONFIG_COMPACTION?)",
			    COMPACT_PATHS[0], COMPACT_PATHS[1]);
		if (r.err == EACCES || r.err == EPERM)
			die(EXIT_SKIP, o->line, "migrate: writing %s: %s (compaction needs root)", path, strerror(r.err));
		die(EXIT_INTERNAL, o->line, "migrate: writing %s: %s", path, strerror(r.err));
	}
	if (r.step)
		die(EXIT_INTERNAL, o->line, "migrate: %s: %s",
		    r.step > 0 && r.step < (int)(sizeof MS_NAMES / sizeof MS_NAMES[0]) ? MS_NAMES[r.step] : "?", strerror(r.err));
	char gone[64] = "";
	if (r.gone)
		snprintf(gone, sizeof gone, " (%" PRIu64 " no longer present)", r.gone);
	fprintf(stderr, "ptlab-runner: line %d: migrate: compaction moved %" PRIu64 " of %" PRIu64 " present pages of the range%s\n",
		o->line, r.moved, r.present, gone);
}

static void do_range_op(int cur, const struct op *o)
{
	const struct mapping *m = find_map(cur, o);
	struct cmd c;
	memset(&c, 0, sizeof c);
	c.addr = m->addr + o->offset;
	c.len = o->len;
	const char *what;
	switch (o->kind) {
	case K_TOUCH:
		c.op = C_TOUCH;
		c.stride = o->every;
		c.write = o->write;
		what = o->write ? "touch write" : "touch read";
		break;
	case K_MADVISE:
		c.op = C_MADVISE;
		c.advice = o->advice;
		what = o->advice_name;
		break;
	case K_UNMAP: c.op = C_MUNMAP; what = "unmap"; break;
	case K_MPROTECT: c.op = C_MPROTECT; c.prot = o->prot; what = "mprotect"; break;
	case K_MLOCK: c.op = C_MLOCK; c.flags = o->onfault ? MLOCK_ONFAULT : 0; what = o->onfault ? "mlock onfault" : "mlock"; break;
	case K_UFFD_REGISTER: c.op = C_UFFD_REGISTER; c.advice = o->advice; what = "uffd_register"; break;
	case K_UFFD_COPY: c.op = C_UFFD_COPY; what = "uffd_copy"; break;
	case K_UFFD_ZEROPAGE: c.op = C_UFFD_ZEROPAGE; what = "uffd_zeropage"; break;
	case K_UFFD_WRITEPROTECT: c.op = C_UFFD_WRITEPROTECT; c.advice = o->advice; what = "uffd_writeprotect"; break;
	case K_UFFD_MOVE: {
		/* The source is the op's range; the destination another mapping of the same process. */
		struct op d = *o;
		d.ref = o->dst;
		d.offset = o->dst_offset;
		const struct mapping *dm = find_map(cur, &d);
		c.op = C_UFFD_MOVE;
		c.newaddr = c.addr;
		c.addr = dm->addr + o->dst_offset;
		c.advice = o->holes ? (int32_t)UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES : 0;
		what = "uffd_move";
		break;
	}
	default: c.op = C_MUNLOCK; what = "munlock"; break;
	}
	struct resp r;
	send_cmd(&procs[cur], o->line, &c, &r);
	/*
	 * MADV_COLLAPSE's EAGAIN is transient by its documentation (madvise(2): "trying again might
	 * succeed"; madvise_collapse_errno() maps SCAN_PAGE_COUNT, SCAN_PAGE_LRU, SCAN_PAGE_LOCK... to
	 * it): another task held one of the pages for a moment, as compaction under a loaded machine
	 * does. Seen once in a CI run (khugepaged-collapse_compound_extreme.pt; the same script agreed
	 * when run alone). Where the script expects success, ask again a few times before calling it a
	 * mismatch; a collapse that fails its scan has changed nothing. docs/fidelity.md, "Inherent differences".
	 */
	for (int retry = 0; o->kind == K_MADVISE && o->advice == MADV_COLLAPSE && o->err == 0 && r.err == EAGAIN && retry < 5; retry++) {
		usleep(20000);
		send_cmd(&procs[cur], o->line, &c, &r);
	}
	if (c.op >= C_UFFD_REGISTER && r.aux)
		die(EXIT_SKIP, o->line, "%s: no userfaultfd on this machine: %s", what, strerror(r.err));
	char label[64];
	snprintf(label, sizeof label, o->kind == K_MADVISE ? "madvise %s" : "%s", what);
	check_outcome(o, label, r.err);
}

/*
 * mremap M OFFSET OLDLEN NEWLEN [maymove] [at=ADDR]: `maymove` without at= takes the next placement
 * slot (counted like a map, whether or not the mapping moves). After a move, offsets of M are
 * relative to its new place; a grown M may be addressed up to OFFSET + NEWLEN.
 */
static void do_mremap(int cur, const struct op *o)
{
	struct proc *p = &procs[cur];
	struct mapping *m = (struct mapping *)find_map(cur, o);
	struct cmd c;
	memset(&c, 0, sizeof c);
	c.op = C_MREMAP;
	c.addr = m->addr + o->offset;
	c.len = o->len;
	c.newlen = o->newlen;
	if (o->has_at) {
		c.flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		c.newaddr = o->at;
	} else if (o->maymove) {
		c.flags = MREMAP_MAYMOVE;
		c.newaddr = PLACEMENT_BASE + (uint64_t)p->nmaps++ * PLACEMENT_STRIDE;
	}
	struct resp r;
	send_cmd(p, o->line, &c, &r);
	if (!r.err) {
		m->addr = r.addr - o->offset;
		if (o->offset + o->newlen > m->size)
			m->size = o->offset + o->newlen;
	}
	check_outcome(o, "mremap", r.err);
}

/*
 * swapoff [err=NAME]: swapoff(2) of the swap area of `config swap=`, from the parent, since the
 * area belongs to the machine: try_to_unuse() reads every process's swapped-out pages back and
 * maps them again while the children wait on their command pipes. The outcome is 0 or the errno.
 * After a success the area is gone (swap_on false): cleanup() only removes the file, and a later
 * `madvise ... pageout` finds no swap, as on a machine without any. After a failure the kernel has
 * put the area back in service (reinsert_swap_info()), so cleanup() swaps it off as usual.
 *
 * Signals are not blocked around the call, so a timeout's SIGTERM need not wait for the read-back:
 * one arriving during try_to_unuse() fails it with EINTR (the area goes back in service) and the
 * handler's cleanup() then swaps the area off and removes the file; one arriving after a successful
 * swapoff() but before `swap_on = false` makes cleanup()'s swapoff() fail with EINVAL, which it
 * ignores, and the file is removed all the same.
 */
static void do_swapoff(const struct op *o)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = swapoff(swap_path), e = r ? errno : 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!r)
		swap_on = false;
	print_timing(o->line, (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec));
	check_outcome(o, "swapoff", e);
}

/* clear_refs TYPE: the runner writes the type to the current process's /proc/PID/clear_refs. */
static void do_clear_refs(int cur, const struct op *o)
{
	char path[64], text[4];
	snprintf(path, sizeof path, "/proc/%d/clear_refs", (int)procs[cur].pid);
	int n = snprintf(text, sizeof text, "%d", o->advice), e = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, (size_t)n) != n)
		e = errno;
	if (fd >= 0)
		close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_timing(o->line, (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec));
	check_outcome(o, "clear_refs", e);
}

/*
 * fadvise M OFFSET LEN ADVICE: posix_fadvise() of the file range mapping M maps at [OFFSET,
 * OFFSET+LEN), called by the parent on its descriptor of the file (the same file as the child's;
 * DONTNEED reads no per-open state). posix_fadvise() returns the error instead of setting errno.
 */
static void do_fadvise(int cur, const struct op *o)
{
	const struct mapping *m = find_map(cur, o);
	if (m->file < 0)
		die(EXIT_USAGE, o->line, "fadvise of mapping %s, which maps no file or memfd", m->name);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int e = posix_fadvise(files[m->file].fd, (off_t)(m->foff + o->offset), (off_t)o->len, o->advice);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_timing(o->line, (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec));
	check_outcome(o, "fadvise", e);
}

/* ------------------------------------------------------------------------------------------------
 * Setup: sysfs knobs, memfds and files.
 */
static void read_knob(struct knob *k)
{
	char buf[256];
	int fd = open(k->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	char *l = strchr(buf, '['), *r = l ? strchr(l, ']') : NULL;
	if (l && r && (size_t)(r - l - 1) < sizeof k->saved) {
		memcpy(k->saved, l + 1, (size_t)(r - l - 1));
		k->saved[r - l - 1] = 0;
	}
}

static void apply_knob(struct knob *k, const char *key)
{
	if (!k->want || !strcmp(k->want, k->saved))
		return;
	if (!k->saved[0]) {
		printf("{\"type\":\"skip\",\"reason\":");
		char msg[512];
		snprintf(msg, sizeof msg, "config %s=%s: %s is not readable (kernel without THP?)", key, k->want, k->path);
		json_str(msg);
		printf("}\n");
		cleanup();
		exit(EXIT_SKIP);
	}
	int fd = open(k->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		char msg[512];
		snprintf(msg, sizeof msg, "config %s=%s: cannot write %s: %s", key, k->want, k->path, strerror(errno));
		printf("{\"type\":\"skip\",\"reason\":");
		json_str(msg);
		printf("}\n");
		cleanup();
		exit(EXIT_SKIP);
	}
	ssize_t n = write(fd, k->want, strlen(k->want));
	int e = errno;
	close(fd);
	if (n < 0) {
		if (e == EINVAL)
			die(EXIT_USAGE, k->line, "config %s=%s: the kernel rejects this value", key, k->want);
		die(EXIT_INTERNAL, k->line, "config %s=%s: writing %s: %s", key, k->want, k->path, strerror(e));
	}
	k->changed = true;
}

static void __attribute__((noreturn, format(printf, 1, 2))) skip(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (exec_mode) {
		fprintf(stderr, "ptlab-runner: cannot run here: %s\n", msg);
	} else {
		printf("{\"type\":\"skip\",\"reason\":");
		json_str(msg);
		printf("}\n");
	}
	cleanup();
	exit(EXIT_SKIP);
}

/*
 * Whether a read fault maps the shared zero page on this kernel: one private anonymous page (too
 * small for a THP) is read, then its pagemap entry tells. The zero page is present but not
 * exclusively mapped (PM_MMAP_EXCLUSIVE needs a struct page from vm_normal_page(), which the special
 * zero-page PTE does not give); a page of its own is exclusive. A vendor 6.18.44 booted with
 * pvm_no_zero_page=1 maps its own page (docs/fidelity.md).
 * Returns 1 (zero page), 0 (a page of its own) or -1 (no answer: mmap or pagemap failed).
 */
static int probe_zero_page(void)
{
	volatile char *p = mmap(NULL, PAGE_SIZE_4K, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	(void)p[0];
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : pread(fd, &e, sizeof e, (off_t)((uintptr_t)p / PAGE_SIZE_4K * sizeof e));
	if (fd >= 0)
		close(fd);
	munmap((void *)p, PAGE_SIZE_4K);
	if (n != (ssize_t)sizeof e || !(e & PM_PRESENT))
		return -1;
	return (e & PM_MMAP_EXCLUSIVE) ? 0 : 1;
}

/* `config fault_zero_page=`: a script that assumes what this kernel does not do is skipped. */
static void check_zero_page(int have)
{
	if (cfg_fault_zero_page < 0 || have < 0 || cfg_fault_zero_page == have)
		return;
	char where[32] = "--fault-zero-page";
	if (cfg_fault_zero_page_line)
		snprintf(where, sizeof where, "line %d", cfg_fault_zero_page_line);
	skip("config fault_zero_page=%s (%s): this kernel %s", cfg_fault_zero_page ? "on" : "off", where,
	     have ? "maps the shared zero page on read faults" : "maps a page of its own on read faults (pvm_no_zero_page=1?)");
}

static void make_tmpdir(int line)
{
	if (tmpdir[0])
		return;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/ptlab-runner.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		tmpdir[0] = 0;
		die(EXIT_INTERNAL, line, "mkdtemp: %s", strerror(errno));
	}
}

/* The signals cleanup() runs on (catch_signals()), as a set to block while a step and the flag
 * that undoes it are not yet both done. */
static void cleanup_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
}

/* fork() for a helper process (mkswap, --exec's command), called with the cleanup's signals
 * blocked: the child gets their default actions back, so that a signal does not run the parent's
 * cleanup() in it, and the mask `old`. */
static pid_t fork_helper(const sigset_t *old)
{
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, old, NULL);
	}
	return pid;
}

/*
 * Attach the swap area's file to a free loop device (LOOP_CTL_GET_FREE, then LOOP_CONFIGURE; a
 * device another process took in between fails with EBUSY, and the runner asks again), with
 * LO_FLAGS_AUTOCLEAR: the kernel detaches it when swap_loop_fd, its last opener after swapoff(),
 * is closed, even if the runner dies.
 */
static void attach_loop(int file_fd)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		skip("config swap=%dM: /dev/loop-control: %s (the swap area is a loop device)", cfg_swap_mib, strerror(errno));
	for (int tries = 0; tries < 10; tries++) {
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0)
			break;
		char path[64];
		snprintf(path, sizeof path, "/dev/loop%d", nr);
		sigset_t block, old;
		sigfillset(&block);
		sigprocmask(SIG_BLOCK, &block, &old);
		int lfd = open(path, O_RDWR | O_CLOEXEC);
		struct loop_config lc;
		memset(&lc, 0, sizeof lc);
		lc.fd = (unsigned)file_fd;
		lc.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (lfd >= 0 && ioctl(lfd, LOOP_CONFIGURE, &lc) == 0) {
			swap_loop_fd = lfd;
			snprintf(swap_path, sizeof swap_path, "%s", path);
		} else if (lfd >= 0) {
			close(lfd);
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (swap_loop_fd >= 0) {
			close(ctl);
			return;
		}
	}
	int e = errno;
	close(ctl);
	skip("config swap=%dM: no free loop device: %s", cfg_swap_mib, strerror(e));
}

/*
 * `config swap=NM`: a swap area of that size, `mkswap`ed and swapped on for the run; cleanup()
 * swaps it off (unless the script's `swapoff` did), detaches it and removes its file, also on a
 * signal. The runner only ever touches swap it made itself: when /proc/swaps lists anything (the
 * machine's own swap, another run's), or when it is not root, or when the machine has no loop
 * device or no tmpfs at /dev/shm, the run is skipped (also when the script has a `swapoff`).
 * Runs that ask for swap hold the exclusive runner lock (see take_lock()), so no other run of the
 * runner sees it.
 *
 * The area is a loop device over a file in /dev/shm, not a swap file on the root file system:
 * swapin_readahead() (mm/swap_state.c, 6.18) takes the VMA-based readahead, which walks the
 * faulting page table (what the model has: src/mm/swap_state.ts), only while no swap area sits on
 * a rotational device, and this machine's disk is rotational (a swap file on it gets the
 * slot-based swap_cluster_readahead(), whose window depends on every earlier swap-in since boot).
 * A loop device over a tmpfs file is not rotational (drivers/block/loop.c: no backing bdev).
 */
static void create_swap(void)
{
	if (!cfg_swap_mib)
		return;
	if (geteuid() != 0)
		skip("config swap=%dM: creating a swap area needs root", cfg_swap_mib);
	FILE *sw = fopen("/proc/swaps", "re");
	if (!sw)
		skip("config swap=%dM: /proc/swaps is not readable (kernel without CONFIG_SWAP?)", cfg_swap_mib);
	char line[512], first[512] = "";
	int n = 0;
	while (fgets(line, sizeof line, sw))
		if (n++ == 1)
			snprintf(first, sizeof first, "%s", line);
	fclose(sw);
	if (n > 1) {
		first[strcspn(first, " \t\n")] = 0;
		skip("config swap=%dM: swap is already configured (%s%s); the runner does not touch a swap setup it did not create",
		     cfg_swap_mib, first, n > 2 ? ", ..." : "");
	}
	sigset_t block, old;
	cleanup_signals(&block);
	snprintf(swap_file, sizeof swap_file, "/dev/shm/ptlab-swap.XXXXXX");
	sigprocmask(SIG_BLOCK, &block, &old);
	int fd = mkostemp(swap_file, O_CLOEXEC);
	swap_created = fd >= 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (fd < 0)
		skip("config swap=%dM: a file in /dev/shm (tmpfs): %s", cfg_swap_mib, strerror(errno));
	/* Written, not truncated: tmpfs allocates the pages now, not while reclaim writes to them. */
	static char zeros[1 << 20];
	for (int i = 0; i < cfg_swap_mib; i++) {
		if (write(fd, zeros, sizeof zeros) != (ssize_t)sizeof zeros)
			skip("config swap=%dM: writing %s: %s", cfg_swap_mib, swap_file, strerror(errno));
	}
	attach_loop(fd);
	close(fd);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid_t pid = fork_helper(&old);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execlp("mkswap", "mkswap", "-q", swap_path, (char *)NULL);
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		die(EXIT_INTERNAL, cfg_swap_line, "fork: %s", strerror(errno));
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		skip("config swap=%dM: mkswap %s %s", cfg_swap_mib, swap_path,
		     WIFEXITED(status) && WEXITSTATUS(status) == 127 ? "not found (util-linux)" : "failed");
	sigprocmask(SIG_BLOCK, &block, &old);
	int r = swapon(swap_path, 0), e = errno;
	swap_on = r == 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (r)
		skip("config swap=%dM: swapon %s: %s", cfg_swap_mib, swap_path, strerror(e));
	/*
	 * One CPU for the whole run (its processes inherit it): MADV_PAGEOUT isolates only folios on
	 * the LRU, and madvise_pageout()'s lru_add_drain() (mm/madvise.c, 6.18) drains this CPU's
	 * batch only. A process that moved CPU between its faults and the madvise left its last pages
	 * in another CPU's batch, unswapped (seen under load: VmSwap 8184 kB of 8192).
	 */
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	if (sched_setaffinity(0, sizeof one, &one))
		skip("config swap=%dM: sched_setaffinity: %s", cfg_swap_mib, strerror(errno));
}

static void create_files(void)
{
	for (int i = 0; i < nops; i++) {
		const struct op *o = &ops[i];
		if (o->kind != K_MEMFD && o->kind != K_FILE)
			continue;
		if (find_file(o->name) >= 0)
			die(EXIT_USAGE, o->line, "%s %s already exists", o->kind == K_FILE ? "file" : "memfd", o->name);
		struct fileobj *f = &files[nfiles++];
		f->name = o->name;
		f->regular = o->kind == K_FILE;
		f->size = o->len;
		f->folio = o->folio;
		if (!f->regular) {
			f->fd = memfd_create(o->name, 0);
			if (f->fd < 0)
				die(EXIT_INTERNAL, o->line, "memfd_create: %s", strerror(errno));
			if (ftruncate(f->fd, (off_t)o->len))
				die(EXIT_INTERNAL, o->line, "memfd %s: ftruncate: %s", o->name, strerror(errno));
			continue;
		}
		make_tmpdir(o->line);
		snprintf(f->path, sizeof f->path, "%s/%s", tmpdir, o->name);
		f->fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (f->fd < 0)
			die(EXIT_INTERNAL, o->line, "creating %s: %s", f->path, strerror(errno));
		f->created = true;
		/* One write() per folio: ext4 sizes its page-cache folios after the writes. The buffer is
		 * unmapped again before any child is forked. */
		char *buf = mmap(NULL, o->folio, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED)
			die(EXIT_INTERNAL, o->line, "mmap of a %" PRIu64 "-byte write buffer: %s", o->folio, strerror(errno));
		memset(buf, 0x5a, o->folio);
		for (uint64_t done = 0; done < o->len; ) {
			uint64_t n = o->len - done < o->folio ? o->len - done : o->folio;
			ssize_t w = write(f->fd, buf, n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				die(EXIT_INTERNAL, o->line, "writing %s: %s", f->path, w < 0 ? strerror(errno) : "short write");
			done += (uint64_t)w;
		}
		munmap(buf, o->folio);
		if (fsync(f->fd))
			die(EXIT_INTERNAL, o->line, "fsync %s: %s", f->path, strerror(errno));
	}
}

static char *read_script(const char *path)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			return NULL;
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	buf[n] = 0;
	if (strlen(buf) != n) {
		free(buf);
		errno = EILSEQ;
		return NULL;
	}
	return buf;
}

/*
 * Runs of the runner exclude each other where sysfs is concerned: a run that sets a THP knob holds
 * an exclusive lock (from before it reads the value to restore until it has restored it), every
 * other run a shared one, so no run sees a knob another run changed for itself (parallel test
 * files, `ptlab diff` beside `npm test`). A run with `migrate` takes the exclusive lock too: its
 * compaction moves other runs' pages, whose pagemap shows migration entries (swap-format, not
 * present) while they move. Best effort: without the lock file, no locking.
 */
static void take_lock(bool exclusive)
{
	int fd = open("/tmp/ptlab-runner.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return;
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) && errno == EINTR)
		;
}

static void usage(FILE *to)
{
	fprintf(to,
		"usage: ptlab-runner [--thp=MODE] [--shmem-thp=MODE] [--swap=SIZE] [--fault-zero-page=on|off] SCRIPT|-\n"
		"       ptlab-runner --swap=SIZE --exec [--] CMD [ARG...]\n"
		"Executes an op script (docs/op-scripts.md) on the live kernel; prints JSON lines.\n"
		"--exec runs CMD with the swap area of --swap=SIZE instead (ptlab record --swap), on one CPU, and exits as CMD did.\n"
		"--thp=, --shmem-thp=, --swap= and --fault-zero-page= override the script's config thp=, shmem_thp=, swap= and fault_zero_page= (ptlab diff --config).\n"
		"swap=SIZE: a swap area of SIZE (off, 1M..256M), a loop device over a file in /dev/shm, removed afterwards (root).\n"
		"fault_zero_page=on|off: what the script assumes of read faults; the run is skipped when the kernel does otherwise.\n"
		"exit: 0 ok, 1 op/expect mismatch, 2 usage/parse error, 3 skipped, 4 internal error\n");
}

/* The signals on which cleanup() runs before the runner dies of them. */
static void catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * --exec: create the swap area of --swap=SIZE (create_swap(), under the exclusive lock and pinned
 * to one CPU, as for a script), run CMD with it, remove it, and exit as CMD did: its exit code, or
 * the signal that killed it, re-raised. `ptlab record --swap` runs perf this way, so that a
 * recorded program can swap on a machine without swap of its own.
 */
static int exec_with_swap(const char *opt_swap, int argc, char **argv)
{
	if (argc > 0 && !strcmp(argv[0], "--")) {
		argv++;
		argc--;
	}
	if (!opt_swap || argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!parse_swap(opt_swap, &cfg_swap_mib) || !cfg_swap_mib) {
		fprintf(stderr, "ptlab-runner: bad --swap=%s (expected a size from 1M to %dM)\n", opt_swap, MAX_SWAP_MIB);
		return EXIT_USAGE;
	}
	take_lock(true);
	catch_signals();
	create_swap();
	sigset_t block, old;
	cleanup_signals(&block);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid_t pid = fork_helper(&old);
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "ptlab-runner: %s: %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		die(EXIT_INTERNAL, 0, "fork: %s", strerror(errno));
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	cleanup();
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_INTERNAL;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return EXIT_OK;
	}
	/* Overrides of the script's config lines, applied after parsing (they win). */
	char *opt_thp = NULL, *opt_shmem_thp = NULL, *opt_swap = NULL, *opt_fault_zero_page = NULL;
	while (argc > 2 && !strncmp(argv[1], "--", 2)) {
		if (!strncmp(argv[1], "--thp=", 6) && argv[1][6])
			opt_thp = argv[1] + 6;
		else if (!strncmp(argv[1], "--shmem-thp=", 12) && argv[1][12])
			opt_shmem_thp = argv[1] + 12;
		else if (!strncmp(argv[1], "--swap=", 7) && argv[1][7])
			opt_swap = argv[1] + 7;
		else if (!strncmp(argv[1], "--fault-zero-page=", 18) && argv[1][18])
			opt_fault_zero_page = argv[1] + 18;
		else if (!strcmp(argv[1], "--exec"))
			exec_mode = true;
		else
			break;
		argv++;
		argc--;
		if (exec_mode)
			break;
	}
	if (exec_mode)
		return exec_with_swap(opt_swap, argc - 1, argv + 1);
	if (argc != 2) {
		usage(stderr);
		return EXIT_USAGE;
	}

	struct utsname u;
	if (uname(&u))
		strcpy(u.release, "unknown");
	char *text = read_script(argv[1]);
	int text_errno = errno;
	int perr_line = text ? parse_script(text) : 0;
	if (opt_thp) {
		cfg_thp = opt_thp;
		cfg_thp_line = 0;
	}
	if (opt_shmem_thp) {
		cfg_shmem_thp = opt_shmem_thp;
		cfg_shmem_thp_line = 0;
	}
	if (opt_swap && !parse_swap(opt_swap, &cfg_swap_mib)) {
		fprintf(stderr, "ptlab-runner: bad --swap=%s (expected off, or a size from 1M to %dM)\n", opt_swap, MAX_SWAP_MIB);
		return EXIT_USAGE;
	}
	if (opt_swap)
		cfg_swap_line = 0;
	if (opt_fault_zero_page) {
		if (strcmp(opt_fault_zero_page, "on") && strcmp(opt_fault_zero_page, "off")) {
			fprintf(stderr, "ptlab-runner: bad --fault-zero-page=%s (expected on or off)\n", opt_fault_zero_page);
			return EXIT_USAGE;
		}
		cfg_fault_zero_page = !strcmp(opt_fault_zero_page, "on");
		cfg_fault_zero_page_line = 0;
	}

	take_lock(cfg_thp || cfg_shmem_thp || cfg_swap_mib || has_migrate);
	for (int i = 0; i < 2; i++)
		read_knob(&knobs[i]);
	knobs[0].want = cfg_thp;
	knobs[1].want = cfg_shmem_thp;
	knobs[0].line = cfg_thp_line;
	knobs[1].line = cfg_shmem_thp_line;
	printf("{\"type\":\"runner\",\"executor\":\"kernel\",\"kernel\":");
	json_str(u.release);
	for (int i = 0; i < 2; i++) {
		const char *v = knobs[i].want ? knobs[i].want : knobs[i].saved[0] ? knobs[i].saved : NULL;
		printf(",\"%s\":", i ? "shmem_thp" : "thp");
		if (v)
			json_str(v);
		else
			printf("null");
	}
	int fault_zero_page = probe_zero_page();
	/* No pages asked: 0 where the system call exists (kernel_move_pages() → do_pages_stat()). */
	have_move_pages = syscall(SYS_move_pages, 0, 0UL, NULL, NULL, NULL, 0) == 0 || errno != ENOSYS;
	/* An empty scan: 0 where the ioctl exists, ENOTTY before 6.7 (no ->unlocked_ioctl). */
	{
		struct pm_scan_arg a;
		memset(&a, 0, sizeof a);
		a.size = sizeof a;
		int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		have_pagemap_scan = fd >= 0 && ioctl(fd, PAGEMAP_SCAN, &a) == 0;
		if (fd >= 0)
			close(fd);
	}
	if (fault_zero_page >= 0)
		printf(",\"fault_zero_page\":\"%s\"", fault_zero_page ? "on" : "off");
	printf("}\n");
	fflush(stdout);

	if (!text) {
		char msg[PATH_MAX + 64];
		snprintf(msg, sizeof msg, "cannot read %s: %s", argv[1], strerror(text_errno));
		print_error_line(0, msg);
		return EXIT_USAGE;
	}
	if (perr_line) {
		print_error_line(perr_line, parse_msg);
		return EXIT_USAGE;
	}
	if (binder_line)
		skip("map M binder at line %d: binder mappings are the model's alone (the runner opens no binder device)", binder_line);
	/* The parser checked each `swapoff` against the script's own config swap=; --swap=off can still
	 * take the area away. (--swap=SIZE does not rescue a swapoff with no config swap= before it:
	 * that was a parse error above, as in the model's validator.) */
	for (int i = 0; i < nops && !cfg_swap_mib; i++) {
		if (ops[i].kind == K_SWAPOFF) {
			print_error_line(ops[i].line, "swapoff without a swap area (--swap=off overrides the script's config swap=SIZE)");
			return EXIT_USAGE;
		}
	}

	procs = calloc((size_t)nops + 1, sizeof *procs);
	maps_cap = nops + 1;
	maps = calloc((size_t)maps_cap, sizeof *maps);
	files = calloc((size_t)nops + 1, sizeof *files);
	if (!procs || !maps || !files) {
		print_error_line(0, "out of memory");
		return EXIT_INTERNAL;
	}

	catch_signals();

	check_zero_page(fault_zero_page);
	apply_knob(&knobs[0], "thp");
	apply_knob(&knobs[1], "shmem_thp");
	create_swap();
	create_files();

	int cur = -1;
	for (int i = 0; i < nops; i++) {
		const struct op *o = &ops[i];
		if (o->kind >= K_MAP && cur < 0)
			die(EXIT_USAGE, o->line, "no current process (use process or switch first)");
		switch (o->kind) {
		case K_CONFIG:
		case K_MEMFD:
		case K_FILE:
			break; /* done before the first process */
		case K_PROCESS:
			spawn(o);
			cur = nprocs - 1;
			break;
		case K_FORK:
			do_fork(o);
			cur = nprocs - 1;
			break;
		case K_SWITCH:
		case K_EXIT: {
			int p = find_proc(o->name);
			if (p < 0 || !procs[p].alive)
				die(EXIT_USAGE, o->line, "%s process %s", p < 0 ? "unknown" : "exited", o->name);
			if (o->kind == K_SWITCH) {
				cur = p;
			} else {
				reap(&procs[p], o->line);
				if (cur == p)
					cur = -1;
			}
			break;
		}
		case K_MAP:
			do_map(cur, o);
			break;
		case K_TOUCH:
		case K_MADVISE:
		case K_UNMAP:
		case K_MLOCK:
		case K_MUNLOCK:
		case K_MPROTECT:
		case K_UFFD_REGISTER:
		case K_UFFD_COPY:
		case K_UFFD_ZEROPAGE:
		case K_UFFD_WRITEPROTECT:
		case K_UFFD_MOVE:
			do_range_op(cur, o);
			break;
		case K_MREMAP:
			do_mremap(cur, o);
			break;
		case K_TCP_ZEROCOPY:
			do_tcp_zerocopy(cur, o);
			break;
		case K_BINDER_TRANSACTION: /* skipped before any op runs (binder_line) */
			die(EXIT_INTERNAL, o->line, "binder_transaction reached the executor");
			break;
		case K_MIGRATE:
			do_migrate(cur, o);
			break;
		case K_SWAPOFF:
			do_swapoff(o);
			break;
		case K_CLEAR_REFS:
			do_clear_refs(cur, o);
			break;
		case K_FADVISE:
			do_fadvise(cur, o);
			break;
		case K_SNAPSHOT:
			do_snapshot(cur, o);
			break;
		case K_EXPECT:
			do_expect(cur, o);
			break;
		}
	}
	for (int i = 0; i < nprocs; i++)
		if (procs[i].alive)
			reap(&procs[i], 0);
	cleanup();
	fflush(stdout);
	return EXIT_OK;
}
