/* The clock of hub/clock.h. */
#include <time.h>
#include "hub/clock.h"

uint64_t hub_now(void)
{
    return (uint64_t)time(NULL);
}
