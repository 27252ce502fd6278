/*
 * ptlab-tcp-zc-race: getsockopt(TCP_ZEROCOPY_RECEIVE) against MADV_DONTNEED reclaim of the
 * receive block on the live kernel. insert_pages() (mm/memory.c, 6.18) allocates the PTE table
 * with pte_alloc(), drops the PMD lock, then maps it with pte_offset_map_lock(); the receive holds
 * only the VMA read lock (find_tcp_vma()), and so does a MADV_DONTNEED of the whole 2 MiB block,
 * which with CONFIG_PT_RECLAIM frees the still-empty table in between. pte_offset_map_lock() then
 * finds no table and insert_pages() fails with -EFAULT having mapped nothing more: if nothing of
 * this receive was mapped yet, tcp_zerocopy_receive() returns -EFAULT to user space (no
 * TLB_CLEAN_HINT, so no retry); otherwise it returns 0 with a short length. Later windows: a
 * receive of more than 8 pages (pte_offset_map_lock() per batch of 8, and a DONTNEED that zaps
 * the first batch's pages also reclaims their table), one per skb (vm_insert_pages() per skb), or
 * crossing into the next block. No order of the two calls gives either: before the DONTNEED or
 * after it, the receive allocates its table and maps every page.
 *
 *   cc -O2 -Wall -Wextra -std=gnu11 -pthread -o runner/build/ptlab-tcp-zc-race runner/ptlab-tcp-zc-race.c
 *   ptlab-tcp-zc-race [SECONDS [PAGES [same|spread [BLOCKS [copy|zc|zc4k]]]]]
 *       SECONDS  run time (default 10)
 *       PAGES    pages per send and receive, 1..16 (default 1)
 *       same     every receive maps at the start of a block (default); spread: cycle through
 *                the block's 512 pages (a receive may then cross into the next block)
 *       BLOCKS   1 or 2 (default 1): receives alternate between the blocks, one DONTNEED covers
 *                both
 *       SENDER   copy: plain send(); zc: MSG_ZEROCOPY; zc4k: MSG_ZEROCOPY with TCP_MAXSEG
 *                4096+12 on both ends (4 KiB segments). Default: the first of these that passes
 *                the setup check.
 *
 * A TCP connection over loopback (TCP_NODELAY); the receiving socket is mmapped PROT_READ,
 * MAP_SHARED at 32 TiB (2 MiB-aligned). The receive maps a frag only if it is one whole order-0
 * page at offset 0 (can_map_frag()). A plain send() fills the socket's page_frag (compound
 * pages): nothing maps. MSG_ZEROCOPY: skb_copy_ubufs() copies the user pages into fresh order-0
 * pages when the skb loops back to the receiver; that maps up to 15 pages (a 16-page send is cut
 * into segments inside its last page: 15 of 16 map); zc4k maps 16. Each new connection is first
 * warmed up with 4 MiB of plain send() and read(): its first sends are cut at the receive window,
 * not at pages. Setup check, with no DONTNEED running: 16 receives must each map all their bytes,
 * the mapped pages holding what was sent. Then one thread loops MADV_DONTNEED of the blocks; the
 * main thread sends PAGES pages, waits until SIOCINQ shows them, receives into the block and
 * counts: 0 with every byte mapped, 0 with fewer (by pages mapped; the rest is drained with
 * read()), -EFAULT (nothing consumed: the data is drained with read()), other errnos. The mapped
 * pages are never read during the race: the socket VMA has no fault handler. Exit codes: 0 done,
 * 1 setup failed, 3 TCP_ZEROCOPY_RECEIVE (or mmap of a TCP socket) unsupported.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

#define PG 4096
#define BLK (2UL << 20)
#define MAXPAGES 16

static const char *const modes[] = { "copy", "zc", "zc4k" };
static const char *const mode_names[] = { "plain", "MSG_ZEROCOPY", "MSG_ZEROCOPY with TCP_MAXSEG 4096+12" };

static char *blk;
static int nblocks = 1;
static atomic_int stop;
static int rx, tx, zcsend, mode;
static char sbuf[MAXPAGES * PG] __attribute__((aligned(PG)));
static char rbuf[MAXPAGES * PG];

static void *dontneed(void *arg)
{
	(void)arg;
	long n = 0;
	while (!atomic_load(&stop)) {
		madvise(blk, nblocks * BLK, MADV_DONTNEED);
		n++;
	}
	return (void *)n;
}

/* Reap MSG_ZEROCOPY completions so that optmem does not run out. */
static void reap(void)
{
	char ctl[256];
	for (;;) {
		struct msghdr m = { .msg_control = ctl, .msg_controllen = sizeof ctl };
		if (recvmsg(tx, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
	}
}

static int send_all(size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(tx, sbuf + off, len - off, zcsend ? MSG_ZEROCOPY : 0);
		if (n < 0) {
			if (errno == ENOBUFS && zcsend) { reap(); sched_yield(); continue; }
			perror("send");
			return -1;
		}
		off += n;
	}
	if (zcsend)
		reap();
	return 0;
}

static int wait_inq(int want)
{
	for (long spins = 0;; spins++) {
		int inq = 0;
		if (ioctl(rx, SIOCINQ, &inq)) { perror("SIOCINQ"); return -1; }
		if (inq >= want)
			return inq;
		if (spins > 1000)
			sched_yield();
		if (spins > 10000000) { fprintf(stderr, "data never arrived (%d of %d)\n", inq, want); return -1; }
	}
}

static int drain(size_t len)
{
	while (len) {
		ssize_t n = read(rx, rbuf, len > sizeof rbuf ? sizeof rbuf : len);
		if (n <= 0) { perror("read"); return -1; }
		len -= n;
	}
	return 0;
}

/* One receive of len bytes at addr: returns 0 or -errno; *mapped gets zc.length. */
static int receive(char *addr, unsigned len, unsigned *mapped)
{
	struct tcp_zerocopy_receive zc;
	memset(&zc, 0, sizeof zc);
	zc.address = (unsigned long)addr;
	zc.length = len;
	socklen_t zl = sizeof zc;
	int r = getsockopt(rx, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &zl);
	*mapped = r ? 0 : zc.length;
	return r ? -errno : 0;
}

/* Setup check, no DONTNEED running: every receive maps all its bytes, holding what was sent. */
static int check(int pages)
{
	unsigned len = pages * PG, mapped;
	for (int i = 0; i < 16; i++) {
		for (int p = 0; p < pages; p++)
			memset(sbuf + p * PG, 0x40 + ((i * pages + p) & 0x3f), PG);
		char *addr = blk + (i % nblocks) * BLK + (unsigned long)(i % 4) * 3 * PG;
		if (send_all(len) || wait_inq(len) < 0)
			return -1;
		int r = receive(addr, len, &mapped);
		if (r == -ENOPROTOOPT || r == -EOPNOTSUPP) {
			fprintf(stderr, "TCP_ZEROCOPY_RECEIVE: %s\n", strerror(-r));
			exit(3);
		}
		int bad = r || mapped != len;
		for (int p = 0; !bad && p < pages; p++)
			bad = memcmp(addr + p * PG, sbuf + p * PG, PG) != 0;
		if (mapped < len && drain(len - mapped))
			return -1;
		if (bad) {
			fprintf(stderr, "setup check (%s send): receive %d returned %d, mapped %u of %u%s\n",
				mode_names[mode], i, r, mapped, len,
				!r && mapped == len ? ", wrong data" : "");
			return 1;
		}
	}
	return 0;
}

/* Connect rx and tx over loopback for sender mode m and map rx at 32 TiB: 0 done, 1 failed, 3 unsupported. */
static int setup(int m)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1, mss = PG + 12; /* + the timestamp option */
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	if (ls < 0 || (m == 2 && setsockopt(ls, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss))
	    || bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 1)
	    || getsockname(ls, (struct sockaddr *)&sa, &sl)) {
		perror("listen");
		return 1;
	}
	tx = socket(AF_INET, SOCK_STREAM, 0);
	if (tx < 0 || (m == 2 && setsockopt(tx, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss))
	    || connect(tx, (struct sockaddr *)&sa, sizeof sa) || (rx = accept(ls, NULL, NULL)) < 0) {
		perror("connect");
		return 1;
	}
	close(ls);
	setsockopt(tx, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(rx, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	mode = m;
	zcsend = m > 0;
	if (zcsend && setsockopt(tx, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one)) {
		perror("SO_ZEROCOPY");
		return 1;
	}
	/* Two 2 MiB-aligned blocks at 32 TiB, plus room for a spread receive to cross the end. */
	char *p = mmap((void *)(32ULL << 40), 2 * BLK + MAXPAGES * PG, PROT_READ,
		       MAP_SHARED | MAP_FIXED_NOREPLACE, rx, 0);
	if (p == MAP_FAILED) {
		perror("mmap of the TCP socket");
		return errno == ENODEV ? 3 : 1;
	}
	if (p != (char *)(32ULL << 40)) {
		fprintf(stderr, "mmap: got %p\n", (void *)p);
		return 1;
	}
	blk = p;
	/* Warm up: the first sends of a new connection are cut at the receive window, not at pages. */
	for (int i = 0; i < 64; i++) {
		int z = zcsend;
		zcsend = 0;
		if (send_all(sizeof sbuf) || wait_inq(sizeof sbuf) < 0 || drain(sizeof sbuf))
			return 1;
		zcsend = z;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 10;
	int pages = argc > 2 ? atoi(argv[2]) : 1;
	int spread = argc > 3 && !strcmp(argv[3], "spread");
	nblocks = argc > 4 ? atoi(argv[4]) : 1;
	int m0 = 0, m1 = 2;
	if (argc > 5) {
		for (m0 = 0; m0 < 3 && strcmp(argv[5], modes[m0]); m0++)
			;
		m1 = m0;
	}
	if (secs < 1 || pages < 1 || pages > MAXPAGES || nblocks < 1 || nblocks > 2 || m0 > 2
	    || (argc > 3 && !spread && strcmp(argv[3], "same"))) {
		fprintf(stderr, "usage: %s [SECONDS [PAGES(1..%d) [same|spread [BLOCKS(1..2) [copy|zc|zc4k]]]]]\n",
			argv[0], MAXPAGES);
		return 1;
	}

	int r = 1, m;
	for (m = m0; m <= m1; m++) {
		r = setup(m);
		if (r)
			return r;
		r = check(pages);
		if (r <= 0)
			break;
		munmap(blk, 2 * BLK + MAXPAGES * PG);
		close(rx);
		close(tx);
	}
	if (r) {
		fprintf(stderr, "setup check failed\n");
		return 1;
	}
	printf("setup: %s send of %d page(s) maps fully with no DONTNEED running\n", mode_names[m], pages);
	fflush(stdout);
	memset(sbuf, 0x5a, sizeof sbuf);

	pthread_t t;
	pthread_create(&t, NULL, dontneed, NULL);
	long ok = 0, shrt = 0, efault = 0, other = 0;
	static long byerrno[4096], shortby[MAXPAGES]; /* short receives by pages mapped */
	unsigned len = pages * PG;
	time_t end = time(NULL) + secs;
	long i = 0;
	while (time(NULL) < end) {
		int b = nblocks > 1 ? i % nblocks : 0;
		unsigned long off = spread ? (unsigned long)(i / nblocks % 512) * PG : 0;
		unsigned mapped;
		i++;
		if (send_all(len) || wait_inq(len) < 0)
			return 1;
		int e = receive(blk + b * BLK + off, len, &mapped);
		if (!e && mapped == len)
			ok++;
		else if (!e) {
			shrt++;
			shortby[mapped / PG]++;
		} else if (e == -EFAULT)
			efault++;
		else {
			other++;
			byerrno[-e & 4095]++;
		}
		if (mapped < len && drain(len - mapped))
			return 1;
		int inq = -1;
		if (ioctl(rx, SIOCINQ, &inq) || inq) {
			fprintf(stderr, "receive queue not empty after round %ld: %d\n", i, inq);
			return 1;
		}
	}
	atomic_store(&stop, 1);
	void *n;
	pthread_join(t, &n);
	printf("receives (%d page(s), %s, %d block(s), %s send): %ld ok, %ld short", pages, spread ? "spread" : "same",
	       nblocks, modes[m], ok, shrt);
	for (int k = 0; k < MAXPAGES; k++)
		if (shortby[k])
			printf(" [%d mapped: %ld]", k, shortby[k]);
	printf(", %ld EFAULT, %ld other", efault, other);
	for (int e = 1; e < 4096; e++)
		if (byerrno[e])
			printf(" [%s: %ld]", strerror(e), byerrno[e]);
	printf("; %ld DONTNEEDs\n", (long)n);
	return 0;
}
