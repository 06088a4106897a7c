/* The value types of the configuration's key table, shared by hub/config.c (the table, the YAML walk, the cross-key
 * checks) and hub/config_types.c (the types); private to those two files. */
#ifndef HUB_CONFIG_TYPES_H
#define HUB_CONFIG_TYPES_H

#include <stddef.h>
#include <stdint.h>

#define HUB_CONF_MAX_STRING 4096
#define HUB_CONF_MAX_ITEMS 256
#define HUB_CONF_MAX_DURATION (3650ull * 86400) /* ten years: keeps time arithmetic far from overflow */
#define HUB_CONF_MSG 256

/* The field at byte offset off of the struct at base. */
#define HUB_CONF_FIELD(base, off, type) ((type *)((char *)(base) + (off)))

typedef struct st_hub_conf_key_t hub_conf_key_t;

/* How a key's YAML node is consumed: one scalar, a sequence of scalars, a nested mapping, or routes. */
typedef enum { HUB_CONF_SCALAR, HUB_CONF_LIST, HUB_CONF_SECTION, HUB_CONF_ROUTES } hub_conf_kind_t;

/* A value type. parse checks one scalar (or one list item) and, when field is not NULL, stores it;
 * it fills msg and returns -1 when the text is not acceptable. */
typedef struct st_hub_conf_type_t {
    hub_conf_kind_t kind;
    const char *expect; /* "a duration like 10m": completes "expected ..." */
    int (*parse)(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize);
    void (*dispose)(const hub_conf_key_t *key, void *base);
} hub_conf_type_t;

struct st_hub_conf_key_t {
    const char *path; /* dotted, relative to the table's mapping */
    const hub_conf_type_t *type;
    size_t off, off2; /* field offsets into the table's struct (off2: port, list count) */
    const char *def;  /* default as YAML text (lists: space-separated); NULL = none */
    uint64_t min, max;
    const char *const *names; /* enum values, index = stored int */
};

/* The scalar and list types the key table uses (hub/config_types.c). */
extern const hub_conf_type_t hub_conf_string, hub_conf_cluster_secret, hub_conf_name, hub_conf_bool, hub_conf_uint,
    hub_conf_duration, hub_conf_enum, hub_conf_listen, hub_conf_url, hub_conf_upstream, hub_conf_route_path, hub_conf_scopes,
    hub_conf_strings, hub_conf_cidrs;

/* hub_parse_duration (hub/config.h): "30s", "10m", "12h", "30d" or plain seconds; 0 or HUB_E_PARSE. */
int hub_conf_parse_duration(const char *s, uint64_t *seconds);
/* Replaces the list field of key (and its count) with list (NULL-terminated, n items), freeing the old one. */
void hub_conf_set_list(const hub_conf_key_t *key, void *base, char **list, size_t n);
/* Frees a NULL-terminated list (NULL is ignored). */
void hub_conf_free_list(char **list);

#endif
