/*
 * ptlab-uffd-race: UFFDIO_COPY against MADV_DONTNEED reclaim on the live kernel, counting the
 * outcomes the explorer's uffd_copy_vs_dontneed scenario predicts (docs/explorer.md, "Sequential
 * explainability"): a -EEXIST with no page there (mfill_atomic()'s second lockless PMD read finds
 * the freshly allocated table reclaimed) and a -EAGAIN (pte_offset_map_lock() finds no table).
 *
 *   cc -O2 -Wall -Wextra -std=gnu11 -pthread -o runner/build/ptlab-uffd-race runner/ptlab-uffd-race.c
 *   ptlab-uffd-race [SECONDS]          (default 10; needs userfaultfd: root, or vm.unprivileged_userfaultfd)
 *
 * One thread loops MADV_DONTNEED of a 2 MiB block registered for missing faults; the main thread
 * copies one page at a time into it, cycling through its 512 pages. The copier is the only filler,
 * so a -EEXIST counts as spurious ("with no page there") when a DONTNEED began after the page's
 * last successful copy and ended before the attempt began: that DONTNEED zapped the page and
 * nothing refilled it. Exit codes: 0 done, 1 setup failed, 3 no userfaultfd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <stdatomic.h>

static char *blk;
static int uffd;
static atomic_int stop;
static atomic_long dn_started, dn_done;
static char src[4096] __attribute__((aligned(4096)));

static void *dontneed(void *arg)
{
	(void)arg;
	long n = 0;
	while (!atomic_load(&stop)) {
		atomic_fetch_add(&dn_started, 1);
		madvise(blk, 2 << 20, MADV_DONTNEED);
		atomic_fetch_add(&dn_done, 1);
		n++;
	}
	return (void *)n;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 10;
	memset(src, 0x5a, sizeof src);
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_SIGBUS };
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) { perror("uffd"); return 3; }
	char *p = mmap((void *)(16ULL << 40), 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED) { perror("mmap"); return 1; }
	blk = p; /* 2M-aligned: 16 TiB */
	madvise(blk, 4 << 20, MADV_NOHUGEPAGE);
	struct uffdio_register reg = { .range = { .start = (unsigned long)blk, .len = 2 << 20 }, .mode = UFFDIO_REGISTER_MODE_MISSING };
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) { perror("register"); return 1; }
	pthread_t t;
	pthread_create(&t, NULL, dontneed, NULL);
	long ok = 0, eexist = 0, eagain = 0, other = 0, eexist_empty = 0;
	time_t end = time(NULL) + secs;
	int page = 0;
	static long last_ok[512]; /* dn_started read after the page's last successful copy */
	for (int i = 0; i < 512; i++) last_ok[i] = -1;
	while (time(NULL) < end) {
		struct uffdio_copy cp = { .dst = (unsigned long)blk + (unsigned long)page * 4096, .src = (unsigned long)src, .len = 4096, .mode = UFFDIO_COPY_MODE_DONTWAKE };
		long d = atomic_load(&dn_done);
		int r = ioctl(uffd, UFFDIO_COPY, &cp);
		if (!r) {
			ok++;
			last_ok[page] = atomic_load(&dn_started);
		} else if (errno == EEXIST) {
			eexist++;
			/* No page can be there: a DONTNEED that began after the last copy ended before this one. */
			if (last_ok[page] < 0 || d > last_ok[page])
				eexist_empty++;
		}
		else if (errno == EAGAIN) eagain++;
		else other++;
		page = (page + 1) % 512;
	}
	atomic_store(&stop, 1);
	void *n;
	pthread_join(t, &n);
	printf("copies: %ld ok, %ld EEXIST (%ld with no page there), %ld EAGAIN, %ld other; %ld DONTNEEDs\n", ok, eexist, eexist_empty, eagain, other, (long)n);
	return 0;
}
