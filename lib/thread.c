#include "lib/thread.h"

#include <stdbool.h>

#ifdef __linux__
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

void thread_background(void)
{
#ifdef __linux__
	static _Thread_local bool lowered;
	if(lowered)
		return;
	lowered = true;
	/* On Linux a nice value belongs to a thread, named by its id; a new
	 * thread starts with its creator's. */
	id_t tid = (id_t)syscall(SYS_gettid);
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, tid);
	if(nice == -1 && errno)
		return;
	nice += THREAD_NICE;
	(void)setpriority(PRIO_PROCESS, tid, nice > 19 ? 19 : nice);
#endif
}
