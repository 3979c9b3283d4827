/*
 * thread: what the work run on libuv's pool (commits, parsing) shares.
 */
#ifndef ENSEMBLE_THREAD_H
#define ENSEMBLE_THREAD_H

/* Called first by every work function run on libuv's pool: lowers the
 * calling thread's priority below the loop's (THREAD_NICE more, once per
 * thread).  On two cores the pool's thread, the loop and a busy peer
 * contend: a commit that took the loop's core held back the answer the loop
 * had just been woken for (Telegram end to end: 11.25 -> 10.46 s).  Nice 5
 * still gives the work a third of a core against a busy neighbour, so a
 * loaded machine slows commits rather than stalls them.  Linux only (a
 * thread's own nice value); elsewhere it does nothing. */
void thread_background(void);

#define THREAD_NICE 5

#endif
