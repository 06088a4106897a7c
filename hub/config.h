/* The node's configuration: SPEC §3 YAML parsed once at start-up into typed structs. */
#ifndef HUB_CONFIG_H
#define HUB_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { HUB_ROLE_PRIMARY = 0, HUB_ROLE_SECONDARY } hub_role_t;
typedef enum { HUB_ALG_RS256 = 0, HUB_ALG_ES256, HUB_ALG_EDDSA } hub_alg_t;
typedef enum { HUB_SKIP_AUTH_FORCE = 0, HUB_SKIP_AUTH_AUTO } hub_skip_auth_t;

typedef struct st_hub_route_conf_t {
    char *path;     /* URL path prefix, begins with '/' */
    char *upstream; /* absolute http:// URL */
    char **roles;   /* NULL-terminated; empty = any signed-in user */
    size_t nroles;
    int pass_token; /* forward the caller's Authorization: Bearer token upstream (default: removed) */
} hub_route_conf_t;

typedef struct st_hub_config_t {
    char *file; /* the path it was read from */
    struct {
        hub_role_t role;
        char *name;
        char *listen_host; /* from listen: host:port */
        uint16_t listen_port;
        char *public_url; /* without trailing slash */
        char *data_dir;
        unsigned threads;
        char *tls_cert; /* NULL when no TLS */
        char *tls_key;
        int log_level;            /* hub_log_level_t */
        unsigned max_connections; /* client connections open at once; 0 = derived from the open-file limit */
        char **metrics_allow;     /* NULL-terminated address ranges ("127.0.0.0/8") that may read /metrics */
        size_t nmetrics_allow;
        int proxy_protocol; /* connections start with a PROXY protocol v1 line naming the client (a load balancer) */
    } node;
    struct {
        int signing_alg;             /* hub_alg_t */
        uint64_t key_rotation_every; /* seconds */
        uint64_t key_publish_ahead;
        uint64_t access_token_ttl;
        uint64_t id_token_ttl;
        uint64_t refresh_token_ttl;
        uint64_t code_ttl;
        uint64_t session_ttl;
        int skip_authorization; /* hub_skip_auth_t: initial provider setting */
        int require_join_token;
        unsigned login_max_failures;
        uint64_t login_lockout;
        unsigned login_address_max_failures;  /* failed sign-ins from one address per 15 minutes */
        unsigned login_max_checks_per_second; /* password checks of the whole node; 0 = 100 per CPU */
        unsigned login_max_queued;            /* checks waiting for a worker; 0 = 32 per CPU */
        char *cluster_secret_file;            /* SPEC §9: the primaries of a cluster seal private keys with it; NULL = none */
    } primary;
    struct {
        char *server_url; /* without trailing slash */
        char *join_token_file;
        char *client_id; /* static registration instead of a join token */
        char *client_secret_file;
        char **scopes; /* NULL-terminated */
        size_t nscopes;
        uint64_t session_ttl;
        uint64_t clock_skew;
        char **accept_audiences; /* NULL-terminated */
        size_t naccept_audiences;
        hub_route_conf_t *routes;
        size_t nroutes;
    } secondary;
} hub_config_t;

/* Fills *cfg with every default of SPEC §3 (a runnable primary on 127.0.0.1:8080). */
void hub_config_defaults(hub_config_t *cfg);

/* Reads and validates the YAML file at path into *cfg (defaults first, then the file).
 * Every problem is written to errs (may be NULL) as one line "FILE:LINE: KEY: message";
 * returns 0 when valid, HUB_E_CONFIG when any problem was found (the number of problems
 * in *nproblems when not NULL), HUB_E_IO when the file cannot be read. On failure *cfg
 * still owns whatever it allocated: always call hub_config_dispose. */
int hub_config_load(hub_config_t *cfg, const char *path, FILE *errs, size_t *nproblems);

/* Frees what hub_config_defaults/hub_config_load allocated inside *cfg. */
void hub_config_dispose(hub_config_t *cfg);

/* Whether cfg makes its node a primary of a cluster (SPEC §9): a primary with primary.cluster_secret_file. Such a node
 * keeps its private keys sealed in the store and names its cookies after public_url instead of node.name. The one
 * test of it: every such decision asks here. */
int hub_config_is_cluster(const hub_config_t *cfg);

/* Parses a duration "30s", "10m", "12h", "30d" or plain seconds. Returns 0 or HUB_E_PARSE. */
int hub_parse_duration(const char *s, uint64_t *seconds);

/* One key of the configuration table as documentation shows it (hub.yaml(5) is checked against these). */
typedef struct st_hub_config_keyinfo_t {
    char path[128];            /* dotted; a route's keys as "secondary.routes[].path" */
    int section;               /* a mapping of other keys (node.tls), no value of its own */
    int list;                  /* a YAML list (routes included) */
    const char *def;           /* the default as YAML text, list items space-separated; NULL = none */
    int ranged, duration;      /* min and max apply; they are seconds */
    uint64_t min, max;         /* when ranged */
    const char *const *values; /* an enumeration's values, NULL-terminated; else NULL */
} hub_config_keyinfo_t;

/* Describes the i-th key (0, 1, ... in table order, a route's keys last) into *info; its pointers are static. Returns 0,
 * or HUB_E_NOTFOUND when i is past the last key. */
int hub_config_key_info(size_t i, hub_config_keyinfo_t *info);

#endif
