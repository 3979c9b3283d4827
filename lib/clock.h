/*
 * clock: the one source of time.  Every module asks clock_now_ms(); tests
 * and the console's --clock=sim replace the source.  In simulated mode time
 * moves only when clock_set_ms() is called.
 */
#ifndef ENSEMBLE_CLOCK_H
#define ENSEMBLE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds since the Unix epoch. */
int64_t clock_now_ms(void);
/* Seconds since the Unix epoch. */
time_t clock_now(void);

/* Switches to simulated time, starting at start_ms. */
void clock_use_sim(int64_t start_ms);
/* Switches back to the system's real-time clock. */
void clock_use_real(void);
/* Real time that runs from start_ms now (end-to-end tests reach a
 * reminder's moment without waiting a day). */
void clock_use_shifted(int64_t start_ms);
bool clock_is_sim(void);
/* Sets the simulated time; ignored in real mode.  Time never goes back:
 * a value before the current one is ignored and -1 returned. */
int clock_set_ms(int64_t ms);

/* A monotonic clock for measuring durations; not simulated. */
int64_t clock_mono_ms(void);

#endif
