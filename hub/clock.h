/* The one clock every expiry decision reads: unix time in seconds. */
#ifndef HUB_CLOCK_H
#define HUB_CLOCK_H

#include <stdint.h>

/* Current unix time in seconds (the wall clock: expiries are stored as unix times and compared across processes). */
uint64_t hub_now(void);

#endif
