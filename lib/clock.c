#include "lib/clock.h"

static bool clock__sim;
static int64_t clock__sim_ms;
static int64_t clock__offset_ms;

int64_t clock_now_ms(void)
{
	if(clock__sim)
		return clock__sim_ms;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock__offset_ms;
}

void clock_use_shifted(int64_t start_ms)
{
	clock__sim = false;
	clock__offset_ms = 0;
	clock__offset_ms = start_ms - clock_now_ms();
}

time_t clock_now(void)
{
	return (time_t)(clock_now_ms() / 1000);
}

void clock_use_sim(int64_t start_ms)
{
	clock__sim = true;
	clock__sim_ms = start_ms;
}

void clock_use_real(void)
{
	clock__sim = false;
}
bool clock_is_sim(void)
{
	return clock__sim;
}

int clock_set_ms(int64_t ms)
{
	if(!clock__sim || ms < clock__sim_ms)
		return -1;
	clock__sim_ms = ms;
	return 0;
}

int64_t clock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
