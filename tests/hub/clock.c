/* Tests hub/clock.c: hub_now is the wall clock in whole seconds (expiries are unix times compared across processes),
 * so it agrees with time() and CLOCK_REALTIME, not with a monotonic clock, and never goes back between two reads. */
#include <time.h>
#include "hub/clock.h"
#include "tests/check.h"

int main(void)
{
    struct timespec mono, real;
    time_t before = time(NULL);
    uint64_t now = hub_now(), prev;
    time_t after = time(NULL);

    CHECK(now >= (uint64_t)before && now <= (uint64_t)after);
    CHECK(now > 1577836800u); /* after 2020-01-01: unix seconds, not milliseconds and not an uptime */
    CHECK(now < 4102444800u); /* before 2100-01-01: seconds, not milliseconds */
    clock_gettime(CLOCK_REALTIME, &real);
    CHECK(real.tv_sec >= (time_t)now && real.tv_sec - (time_t)now <= 1);
    /* a monotonic clock counts from boot: hub_now must not be it */
    clock_gettime(CLOCK_MONOTONIC, &mono);
    CHECK(mono.tv_sec < (time_t)now - 86400 * 365);
    prev = hub_now();
    for (int i = 0; i != 1000; ++i) {
        uint64_t t = hub_now();
        CHECK(t >= prev);
        prev = t;
    }
    return check_report("hub/clock");
}
