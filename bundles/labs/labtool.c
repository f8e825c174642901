/* labtool: what the namespace labs need and busybox lacks, in one static binary that runs on the
 * host and inside the labs' busybox rootfs alike. Built by `make bundles` (gcc -static).
 *
 *   labtool mq make|has|rm NAME     a POSIX message queue (mq_open; `has` prints present or absent)
 *   labtool shm make|has|rm KEY     a System V shared-memory segment (shmget; KEY in hex)
 *   labtool domainname              uname(2)'s domainname, which busybox does not print
 *   labtool clocks                  CLOCK_MONOTONIC and CLOCK_BOOTTIME in seconds
 *   labtool hold                    when stdin is a pipe, wait for its writer to close it, so that a
 *                                   lab driver can read the host's side while the container lives
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what, const char *name)
{
	fprintf(stderr, "labtool: %s %s: %s\n", what, name, strerror(errno));
	return 1;
}

static int mq(const char *op, const char *name)
{
	mqd_t q;

	if (!strcmp(op, "make")) {
		struct mq_attr attr = { .mq_maxmsg = 1, .mq_msgsize = 64 };
		q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
		return q == (mqd_t)-1 ? fail("mq_open", name) : (mq_close(q), 0);
	}
	if (!strcmp(op, "has")) {
		q = mq_open(name, O_RDONLY);
		if (q == (mqd_t)-1 && errno != ENOENT)
			return fail("mq_open", name);
		puts(q == (mqd_t)-1 ? "absent" : "present");
		if (q != (mqd_t)-1)
			mq_close(q);
		return 0;
	}
	if (!strcmp(op, "rm"))
		return mq_unlink(name) && errno != ENOENT ? fail("mq_unlink", name) : 0;
	return 2;
}

static int shm(const char *op, const char *hex)
{
	key_t key = (key_t)strtoul(hex, NULL, 16);
	int id;

	if (!strcmp(op, "make"))
		return shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600) < 0 ? fail("shmget", hex) : 0;
	id = shmget(key, 0, 0);
	if (id < 0 && errno != ENOENT)
		return fail("shmget", hex);
	if (!strcmp(op, "has")) {
		puts(id < 0 ? "absent" : "present");
		return 0;
	}
	if (!strcmp(op, "rm"))
		return id >= 0 && shmctl(id, IPC_RMID, NULL) ? fail("shmctl", hex) : 0;
	return 2;
}

static double seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "mq") && argc == 4)
		return mq(argv[2], argv[3]);
	if (!strcmp(cmd, "shm") && argc == 4)
		return shm(argv[2], argv[3]);
	if (!strcmp(cmd, "domainname")) {
		struct utsname u;
		uname(&u);
		puts(u.domainname);
		return 0;
	}
	if (!strcmp(cmd, "clocks")) {
		printf("%.3f %.3f\n", seconds(CLOCK_MONOTONIC), seconds(CLOCK_BOOTTIME));
		return 0;
	}
	if (!strcmp(cmd, "hold")) {
		struct stat st;
		char buf[256];
		if (fstat(0, &st) == 0 && S_ISFIFO(st.st_mode))
			while (read(0, buf, sizeof buf) > 0)
				;
		return 0;
	}
	fprintf(stderr, "usage: labtool mq|shm make|has|rm NAME, domainname, clocks, hold\n");
	return 2;
}
