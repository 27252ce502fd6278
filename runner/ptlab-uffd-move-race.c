/*
 * ptlab-uffd-move-race: UFFDIO_MOVE against MADV_DONTNEED reclaim of the destination block on the
 * live kernel, counting the two outcomes the explorer's uffd_move_vs_dontneed scenario finds with
 * --explain (docs/explorer.md, "Sequential explainability"), neither of which any order of the two
 * calls gives:
 *
 * - -EINVAL: move_pages_ptes() (mm/userfaultfd.c, 6.18) maps the destination table without a lock,
 *   then reads both PMDs ("sanity checks before the operation"); a DONTNEED that zapped the block
 *   and reclaimed its table in between leaves the destination PMD none.
 * - a failed move that moved the page: move_pages() sets `err` from a failing pass and a pass that
 *   moves the page does not clear it. After a pass that returned -EAGAIN (the destination table
 *   vanished under it), the pass that moves the page leaves -EAGAIN in `err`, the loop runs the
 *   same address again and fails there: -EEXIST (its own page is at the destination) or -ENOENT
 *   (the DONTNEED zapped it meanwhile and the source is empty). The page has left the source.
 *
 * With `zero` (docs/swarm.md, "Findings with every guard on"): -ENOENT for a source that is
 * mapped throughout, the huge zero page. A thread loops MADV_DONTNEED of the first page of a
 * block the huge zero page maps; the DONTNEED splits the PMD, and __split_huge_zero_page_pmd()
 * (mm/huge_memory.c, 6.18) leaves it empty while it fills the PTE table. move_pages() reads both
 * PMDs without a lock: if it reads them in that window the destination is not huge and the source
 * is none, so -ENOENT, where before the split it is -EEXIST (a huge destination PMD) and after it
 * -EEXIST (the zero page already at the destination).
 *
 *   cc -O2 -Wall -Wextra -std=gnu11 -pthread -o runner/build/ptlab-uffd-move-race runner/ptlab-uffd-move-race.c
 *   ptlab-uffd-move-race [SECONDS [holes|zero]]   (default 10 s; needs userfaultfd: root, or
 *                                                 vm.unprivileged_userfaultfd; holes:
 *                                                 ALLOW_SRC_HOLES; zero: root, THP enabled
 *                                                 for madvise and use_zero_page on; exits 3
 *                                                 when a read fault maps no huge zero page)
 *
 * One thread loops MADV_DONTNEED of the 2 MiB destination block D. The main thread writes the
 * source page S[0], fills D[0] (UFFDIO_COPY, so that D has a table with a page the DONTNEED
 * zaps), then moves S[0] to D+8K and looks at S[0] in /proc/self/pagemap. Neither VMA changes, S
 * is never zapped and THP is off, so: every -EINVAL is the first outcome; a -EEXIST or -ENOENT
 * after which S[0] is gone is the second (a genuine -EEXIST, D+8K still holding the previous
 * round's page, leaves S[0] where it was). A watchdog reports a move that does not return within
 * 2 s (exit 5). Exit codes: 0 done, 1 setup failed, 3 no userfaultfd or no UFFDIO_MOVE (or, for
 * zero, no huge zero page), 5 stuck.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (2UL << 20)

#include "uffd_move.h"

static char *dst;
static atomic_int stop;

/* Is the page at va present (pagemap bit 63)? */
static int present(int pm, const void *va)
{
	unsigned long long e = 0;
	if (pread(pm, &e, sizeof e, (off_t)((unsigned long)va / 4096 * 8)) != sizeof e) return -1;
	return (int)(e >> 63);
}

/* Is va mapped to a zero page (the PFN from pagemap, root only; KPF_ZERO_PAGE of /proc/kpageflags)? */
static int zero_page(int pm, const void *va)
{
	unsigned long long e = 0, f = 0;
	int kf = open("/proc/kpageflags", O_RDONLY);
	int ok = kf >= 0 && pread(pm, &e, sizeof e, (off_t)((unsigned long)va / 4096 * 8)) == sizeof e &&
		 pread(kf, &f, sizeof f, (off_t)((e & ((1ULL << 55) - 1)) * 8)) == sizeof f;
	if (kf >= 0) close(kf);
	return ok && (e >> 63) && ((f >> 24) & 1);
}

/* Set before each UFFDIO_MOVE: a move that does not return within 2 s is reported stuck. */
static atomic_long move_started_ms;

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *watchdog(void *arg)
{
	(void)arg;
	for (;;) {
		usleep(100000);
		long t = atomic_load(&move_started_ms);
		if (t && now_ms() - t > 2000) {
			/* Exiting sends the stuck thread a fatal signal: move_pages() then ends with -EINTR. */
			printf("STUCK: one UFFDIO_MOVE has not returned for %ld ms\n", now_ms() - t);
			fflush(stdout);
			_exit(5);
		}
	}
	return NULL;
}

static void *dontneed(void *arg)
{
	(void)arg;
	long n = 0;
	while (!atomic_load(&stop)) {
		madvise(dst, BLOCK, MADV_DONTNEED);
		n++;
	}
	return (void *)n;
}

/*
 * Raised just before each UFFDIO_MOVE. Which call starts first, and by how much, sweeps from
 * round to round (`skew`: a spin of that many iterations, by the DONTNEED when positive, by the
 * move when negative), so that some rounds line the move's PMD reads up with the split.
 */
static atomic_int armed;
static atomic_int skew;
#define SKEW 20000

static void spin(int n)
{
	for (volatile int i = 0; i < n; i++)
		;
}

static void *dontneed_first_page(void *arg)
{
	(void)arg;
	long n = 0;
	while (!atomic_load(&stop)) {
		if (!atomic_exchange(&armed, 0)) continue;
		spin(atomic_load(&skew));
		madvise(dst, 4096, MADV_DONTNEED);
		n++;
	}
	return (void *)n;
}

/* The `zero` mode: UFFDIO_MOVE inside a block the huge zero page maps, against its split. */
static int zero_split(int uffd, int secs)
{
	dst = mmap((void *)(16ULL << 40), BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (dst == MAP_FAILED) { perror("mmap"); return 1; }
	madvise(dst, BLOCK, MADV_HUGEPAGE);
	int pm = open("/proc/self/pagemap", O_RDONLY);
	struct uffdio_register reg = { .range = { .start = (unsigned long)dst, .len = BLOCK }, .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_range range = reg.range;
	pthread_t t;
	pthread_create(&t, NULL, dontneed_first_page, NULL);
	long eexist = 0, enoent = 0, other = 0, ok = 0, rounds = 0, enoent_mapped = 0;
	time_t end = time(NULL) + secs;
	while (time(NULL) < end) {
		/* Unregistered, a read fault maps the huge zero page (a MISSING-registered VMA would ask us). */
		madvise(dst, BLOCK, MADV_DONTNEED);
		volatile char c = dst[4096];
		(void)c;
		if (ioctl(uffd, UFFDIO_REGISTER, &reg)) { perror("register"); return 1; }
		struct uffdio_move mv = { .dst = (unsigned long)dst + BLOCK - 4096, .src = (unsigned long)dst + 12288, .len = 4096, .mode = UFFDIO_MOVE_MODE_DONTWAKE };
		int k = (int)(rounds * 97 % (2 * SKEW)) - SKEW;
		atomic_store(&skew, k);
		atomic_store(&armed, 1);
		spin(-k);
		int r = ioctl(uffd, UFFDIO_MOVE, &mv);
		int e = errno;
		/* The zero page stays mapped at the source: the DONTNEED only ever zaps the first page. */
		int mapped = present(pm, dst + 12288);
		if (ioctl(uffd, UFFDIO_UNREGISTER, &range)) { perror("unregister"); return 1; }
		rounds++;
		if (!r) ok++;
		else if (e == EEXIST) eexist++;
		else if (e == ENOENT) { enoent++; if (mapped == 1) enoent_mapped++; }
		else if (e == ENOTTY) { fprintf(stderr, "no UFFDIO_MOVE on this kernel\n"); return 3; }
		else other++;
		if (rounds == 1 && !zero_page(pm, dst + BLOCK - 4096)) {
			printf("zero: the read fault mapped no huge zero page here (a kernel booted with pvm_no_zero_page=1 maps a new THP): nothing to split\n");
			return 3;
		}
	}
	atomic_store(&stop, 1);
	void *n;
	pthread_join(t, &n);
	printf("zero: %ld moves: %ld EEXIST, %ld ENOENT (%ld with the source still mapped), %ld ok, %ld other; %ld DONTNEEDs of the first page\n", rounds, eexist, enoent, enoent_mapped, ok, other, (long)n);
	return 0;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 10;
	int holes = argc > 2 && !strcmp(argv[2], "holes");
	int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MOVE };
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) { perror("uffd"); return 3; }
	if (argc > 2 && !strcmp(argv[2], "zero")) return zero_split(uffd, secs);
	/* Two 2 MiB-aligned blocks in separate VMAs (different protections keep them from merging). */
	char *s = mmap((void *)(16ULL << 40), BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	dst = mmap((void *)((16ULL << 40) + 2 * BLOCK), BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (s == MAP_FAILED || dst == MAP_FAILED) { perror("mmap"); return 1; }
	madvise(s, BLOCK, MADV_NOHUGEPAGE);
	madvise(dst, BLOCK, MADV_NOHUGEPAGE);
	struct uffdio_register reg = { .range = { .start = (unsigned long)dst, .len = BLOCK }, .mode = UFFDIO_REGISTER_MODE_MISSING };
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) { perror("register"); return 1; }
	pthread_t t;
	pthread_create(&t, NULL, dontneed, NULL);
	pthread_t w;
	pthread_create(&w, NULL, watchdog, NULL);
	long ok = 0, eexist = 0, einval = 0, other = 0, refill_failed = 0;
	static long other_by[256];
	long enoent_src_there = 0, enoent_src_gone = 0, eexist_moved = 0, einval_moved = 0;
	int pm = open("/proc/self/pagemap", O_RDONLY);
	time_t end = time(NULL) + secs;
	while (time(NULL) < end) {
		s[0] = 1;
		/* D[0] is registered for missing faults: fill it with a copy rather than a fault. */
		static char page[4096] __attribute__((aligned(4096)));
		struct uffdio_copy cp = { .dst = (unsigned long)dst, .src = (unsigned long)page, .len = 4096, .mode = UFFDIO_COPY_MODE_DONTWAKE };
		if (ioctl(uffd, UFFDIO_COPY, &cp) && errno != EEXIST && errno != EAGAIN) refill_failed++;
		struct uffdio_move mv = { .dst = (unsigned long)dst + 8192, .src = (unsigned long)s, .len = 4096, .mode = UFFDIO_MOVE_MODE_DONTWAKE | (holes ? UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES : 0) };
		atomic_store(&move_started_ms, now_ms());
		int r = ioctl(uffd, UFFDIO_MOVE, &mv);
		atomic_store(&move_started_ms, 0);
		if (!r) ok++;
		else if (errno == EEXIST) { eexist++; if (present(pm, s) == 0) eexist_moved++; }
		else if (errno == EINVAL) { einval++; if (present(pm, s) == 0) einval_moved++; }
		else if (errno == ENOTTY) { fprintf(stderr, "no UFFDIO_MOVE on this kernel\n"); return 3; }
		else {
			other++;
			if (errno < 256) other_by[errno]++;
			/* Where is the page now? (The DONTNEED may have zapped D+8K since.) */
			if (errno == ENOENT) { if (present(pm, s) == 1) enoent_src_there++; else enoent_src_gone++; }
		}
	}
	atomic_store(&stop, 1);
	void *n;
	pthread_join(t, &n);
	printf("moves: %ld ok, %ld EEXIST, %ld EINVAL (the race), %ld other; %ld DONTNEEDs; %ld failed refills of D[0]\n", ok, eexist, einval, other, (long)n, refill_failed);
	printf("  the page left S[0] although the move failed: %ld of the EEXIST, %ld of the EINVAL\n", eexist_moved, einval_moved);
	printf("  ENOENT with S[0] still mapped: %ld, with S[0] gone: %ld\n", enoent_src_there, enoent_src_gone);
	for (int e = 0; e < 256; e++)
		if (other_by[e]) printf("  other: %ld %s\n", other_by[e], strerrorname_np(e) ? strerrorname_np(e) : "?");
	return 0;
}
