/* Request metrics per route: counts by status and a latency histogram, lock-free
 * (atomic counters), rendered in the Prometheus text format. */
#ifndef HUB_METRICS_H
#define HUB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define HUB_METRICS_MAX_ROUTES 64
#define HUB_METRICS_BUCKETS 12
#define HUB_METRICS_MAX_COUNTERS 16

typedef struct st_hub_metrics_t hub_metrics_t;

hub_metrics_t *hub_metrics_create(void);
void hub_metrics_destroy(hub_metrics_t *m);

#define HUB_METRICS_OTHER "(other)" /* the catch-all's label */

/* Adds a route label (copied whole); returns its index, the same for the same label. The table's last place is a
 * catch-all labelled HUB_METRICS_OTHER: past HUB_METRICS_MAX_ROUTES - 1 labels, every new one gets its index. */
size_t hub_metrics_add_route(hub_metrics_t *m, const char *label);

/* Records one finished request; thread-safe. status outside 100..599 counts as 0. */
void hub_metrics_observe(hub_metrics_t *m, size_t route, int status, uint64_t micros);

/* Adds a plain counter named name (a Prometheus metric name ending in _total) with its help text, both static
 * strings; returns its index for hub_metrics_count. Only before serving; aborts past HUB_METRICS_MAX_COUNTERS (a
 * programming error, not input). */
size_t hub_metrics_add_counter(hub_metrics_t *m, const char *name, const char *help);
/* Adds n to a counter; thread-safe. */
void hub_metrics_count(hub_metrics_t *m, size_t counter, uint64_t n);

/* In-flight gauge, also used to wait for requests to finish on a graceful stop. */
void hub_metrics_inflight_add(hub_metrics_t *m, int delta);
long hub_metrics_inflight(hub_metrics_t *m);

/* Renders every metric as Prometheus text into a malloc'ed buffer (caller frees). */
char *hub_metrics_render(hub_metrics_t *m, size_t *len);

#endif
