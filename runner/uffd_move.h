/*
 * UFFDIO_MOVE for UAPI headers that predate it (include/uapi/linux/userfaultfd.h, Linux 6.8+): the
 * kernel's values. Included after <linux/userfaultfd.h> by the runner programs of this folder.
 */
#ifndef PTLAB_UFFD_MOVE_H
#define PTLAB_UFFD_MOVE_H
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#define _UFFDIO_MOVE (0x05)
#define UFFDIO_MOVE_MODE_DONTWAKE ((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)
struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
	__u64 mode;
	__s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif
#endif
