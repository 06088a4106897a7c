/* Tests hub/config_types.c directly, type by type, on a struct of its own (tests/hub/config.c drives them through YAML):
 * what each type accepts and refuses at its edges (lengths, control characters, ranges, overflow, enum names, host:port
 * forms, URL forms and what is stored of them, route paths, list items), that base NULL only checks, that storing
 * replaces (ASan: nothing leaks) and dispose frees, that a message fits any buffer, and the list helpers. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/config_types.h"
#include "hub/err.h"
#include "tests/check.h"

typedef struct st_conf_t {
    char *s;
    int b;
    unsigned u;
    uint64_t d;
    int e;
    char *host;
    uint16_t port;
    char *url;
    char **list;
    size_t n;
} conf_t;

static const char *const colours[] = {"red", "green", "blue", NULL};

#define O(f) offsetof(conf_t, f)
static const hub_conf_key_t k_string = {"s", &hub_conf_string, O(s)}, k_name = {"s", &hub_conf_name, O(s)},
                            k_bool = {"b", &hub_conf_bool, O(b)}, k_uint = {"u", &hub_conf_uint, O(u), 0, NULL, 2, 1000},
                            k_duration = {"d", &hub_conf_duration, O(d), 0, NULL, 60, 864000},
                            k_seconds = {"d", &hub_conf_duration, O(d), 0, NULL, 1, 90},
                            k_enum = {"e", &hub_conf_enum, O(e), 0, NULL, 0, 0, colours},
                            k_listen = {"l", &hub_conf_listen, O(host), O(port)}, k_url = {"url", &hub_conf_url, O(url)},
                            k_upstream = {"up", &hub_conf_upstream, O(url)}, k_path = {"p", &hub_conf_route_path, O(s)},
                            k_scopes = {"sc", &hub_conf_scopes, O(list), O(n)},
                            k_strings = {"st", &hub_conf_strings, O(list), O(n)}, k_cidrs = {"ci", &hub_conf_cidrs, O(list), O(n)};

/* Parses s as key's type; with store, into *c. Returns 0 or -1, the message in msg. */
static int parse(const hub_conf_key_t *key, conf_t *c, const char *s, char *msg)
{
    msg[0] = '\0';
    int ret = key->type->parse(key, c, s, msg, HUB_CONF_MSG);
    CHECK(ret == 0 ? msg[0] == '\0' : ret == -1 && msg[0] != '\0' && strlen(msg) < HUB_CONF_MSG);
    return ret;
}

/* Each of good is taken (and checking alone, base NULL, changes nothing), each of bad refused with a message that has
 * expect in it; c is left as the last good one set it. */
static void accepts(const hub_conf_key_t *key, conf_t *c, const char *const *good, const char *const *bad, const char *expect)
{
    char msg[HUB_CONF_MSG];
    for (; *good != NULL; ++good) {
        conf_t before = *c;
        CHECK(key->type->parse(key, NULL, *good, msg, sizeof(msg)) == 0 && memcmp(&before, c, sizeof(before)) == 0);
        CHECK(parse(key, c, *good, msg) == 0);
        if (msg[0] != '\0')
            fprintf(stderr, "%s refused \"%s\": %s\n", key->path, *good, msg);
    }
    for (; *bad != NULL; ++bad) {
        conf_t before = *c;
        CHECK(parse(key, c, *bad, msg) == -1 && strstr(msg, expect) != NULL && memcmp(&before, c, sizeof(before)) == 0);
        if (msg[0] == '\0')
            fprintf(stderr, "%s took \"%s\"\n", key->path, *bad);
    }
}

static void test_strings(conf_t *c)
{
    static char max[HUB_CONF_MAX_STRING + 2];
    memset(max, 'a', HUB_CONF_MAX_STRING);
    const char *const good[] = {"x", "a b", "ünïcode", "\"quoted\"", max, NULL};
    const char *const bad[] = {"", "a\tb", "a\nb", "\x01", "a\x7f", "\x1b[31m", NULL};
    accepts(&k_string, c, good, bad, "");
    CHECK(c->s != NULL && strlen(c->s) == HUB_CONF_MAX_STRING);
    max[HUB_CONF_MAX_STRING] = 'a'; /* one byte too many */
    const char *const none[] = {NULL}, *const long_[] = {max, NULL};
    accepts(&k_string, c, none, long_, "at most 4096 bytes");
    k_string.type->dispose(&k_string, c);
    CHECK(c->s == NULL);
    static char name64[65];
    memset(name64, 'n', 64);
    const char *const names[] = {"hub", "a.b_c-D9", name64, NULL};
    static char name65[66];
    memset(name65, 'n', 65);
    const char *const not_names[] = {"", "a b", "a/b", "a:b", "é", "a\n", name65, NULL};
    accepts(&k_name, c, names, not_names, "expected 1 to 64 letters");
    CHECK(strcmp(c->s, name64) == 0);
    k_name.type->dispose(&k_name, c);
}

static void test_numbers(conf_t *c)
{
    const char *const yes[] = {"true", "yes", "on", "TRUE", "Yes", NULL}, *const no[] = {"false", "no", "off", "OFF", NULL};
    const char *const not_bool[] = {"", "1", "0", "y", "n", "truee", " true", NULL};
    accepts(&k_bool, c, yes, not_bool, "expected true or false");
    CHECK(c->b == 1);
    accepts(&k_bool, c, no, not_bool, "expected true or false");
    CHECK(c->b == 0);
    const char *const in_range[] = {"2", "1000", "007", "500", NULL};
    const char *const not_number[] = {"", "-1", "1a", "1.5", " 5", "5 ", "0x10", "+3", "99999999999999999999999", NULL};
    const char *const out_of_range[] = {"0", "1", "1001", "4294967296", "9999999999999999999", NULL};
    accepts(&k_uint, c, in_range, not_number, "expected a whole number");
    CHECK(c->u == 500);
    accepts(&k_uint, c, (const char *const[]){NULL}, out_of_range, "must be between 2 and 1000");
    CHECK(c->u == 500);
    const char *const spans[] = {"60", "1m", "10d", "864000s", "240h", "1440m", NULL};
    const char *const not_span[] = {
        "", "m", "-1m", "1.5h", "1 m", "1M", "1w", "1ms", "1mm", "18446744073709551616", "213503982334602d", NULL};
    accepts(&k_duration, c, spans, not_span, "expected a duration like 10m");
    CHECK(c->d == 86400);
    accepts(&k_duration, c, (const char *const[]){NULL}, (const char *const[]){"59", "59s", "0", NULL}, "must be at least 60s");
    accepts(&k_duration, c, (const char *const[]){NULL}, (const char *const[]){"864001", "11d", "213503982334601d", NULL},
            "must be at most 10d");
    accepts(&k_seconds, c, (const char *const[]){NULL}, (const char *const[]){"91", "2m", NULL}, "must be at most 90s");
    CHECK(c->d == 86400);
    uint64_t v = 7;
    CHECK(hub_conf_parse_duration("18446744073709551615", &v) == 0 && v == UINT64_MAX);
    CHECK(hub_conf_parse_duration("213503982334601d", &v) == 0 && v == 213503982334601ull * 86400);
    CHECK(hub_conf_parse_duration(NULL, &v) == HUB_E_PARSE && v == 213503982334601ull * 86400);
}

static void test_enum(conf_t *c)
{
    char msg[HUB_CONF_MSG];
    static const char *const names[] = {"red", "green", "blue"};
    for (int i = 2; i >= 0; --i) {
        CHECK(parse(&k_enum, c, names[i], msg) == 0 && c->e == i);
    }
    static const char *const bad[] = {"", "Red", "RED", "re", "reds", "blue ", "0", NULL};
    accepts(&k_enum, c, (const char *const[]){NULL}, bad, "expected one of red|green|blue");
    /* the message fits whatever buffer it is given */
    for (size_t size = 1; size != 40; ++size) {
        char *small = malloc(size);
        CHECK(k_enum.type->parse(&k_enum, NULL, "pink", small, size) == -1 && strlen(small) < size);
        free(small);
    }
    CHECK(c->e == 0);
}

static void test_listen(conf_t *c)
{
    static const struct {
        const char *s, *host;
        uint16_t port;
    } good[] = {{"127.0.0.1:8080", "127.0.0.1", 8080}, {"[::1]:80", "::1", 80}, {"localhost:1", "localhost", 1},
                {"0.0.0.0:65535", "0.0.0.0", 65535},   {"[::]:443", "::", 443}, {"[2001:db8::1]:8443", "2001:db8::1", 8443}};
    char msg[HUB_CONF_MSG];
    for (size_t i = 0; i != sizeof(good) / sizeof(good[0]); ++i)
        CHECK(parse(&k_listen, c, good[i].s, msg) == 0 && strcmp(c->host, good[i].host) == 0 && c->port == good[i].port);
    static char long_host[100];
    snprintf(long_host, sizeof(long_host), "[%s]:80", "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd");
    const char *const bad[] = {"127.0.0.1",
                               ":80",
                               "127.0.0.1:0",
                               "127.0.0.1:65536",
                               "127.0.0.1:",
                               "127.0.0.1:-1",
                               "127.0.0.1:8o",
                               "[::1]80",
                               "[::1]",
                               "::1:80",
                               "host:80",
                               "1.2.3.4.5:80",
                               "[127.0.0.1]:80",
                               "256.0.0.1:80",
                               "[::1%lo]:80",
                               "127.0.0.1 :80",
                               "localhost.:80",
                               long_host,
                               NULL};
    accepts(&k_listen, c, (const char *const[]){NULL}, bad, "expected host:port");
    CHECK(strcmp(c->host, "2001:db8::1") == 0 && c->port == 8443);
    k_listen.type->dispose(&k_listen, c);
    CHECK(c->host == NULL);
}

static void test_urls(conf_t *c)
{
    static const struct {
        const hub_conf_key_t *key;
        const char *s, *stored;
    } good[] = {
        {&k_url, "https://hub.example/", "https://hub.example"},
        {&k_url, "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
        {&k_url, "http://a/b//", "http://a/b"},
        {&k_url, "https://[::1]:8443/x/", "https://[::1]:8443/x"},
        {&k_upstream, "http://127.0.0.1:9000/", "http://127.0.0.1:9000/"},
        {&k_upstream, "http://app:81/a/b", "http://app:81/a/b"},
    };
    char msg[HUB_CONF_MSG];
    for (size_t i = 0; i != sizeof(good) / sizeof(good[0]); ++i)
        CHECK(parse(good[i].key, c, good[i].s, msg) == 0 && strcmp(c->url, good[i].stored) == 0);
    const char *const not_urls[] = {
        "",           "hub.example",    "ftp://a",      "HTTP://a",          "Https://a",    "http://a?x", "http://a/?",
        "http://a#f", "http://u@a",     "http://u:p@a", "http://0x7f.0.0.1", "http://127.1", "http://a b", "http://a\\b",
        "http://a:0", "http://a:65536", "http://[::1",  "http://",           "//a",          NULL};
    accepts(&k_url, c, (const char *const[]){NULL}, not_urls, "expected an absolute http:// or https:// URL");
    const char *const not_upstreams[] = {"https://app:443/", "http://u@app/", "http://app/?x", "app:80", NULL};
    accepts(&k_upstream, c, (const char *const[]){NULL}, not_upstreams, "expected an absolute http:// URL");
    CHECK(strcmp(c->url, "http://app:81/a/b") == 0);
    k_url.type->dispose(&k_url, c);
    CHECK(c->url == NULL);
}

static void test_route_paths(conf_t *c)
{
    const char *const good[] = {"/", "/app/", "/app", "/a/b-c_d.e~f/", "/a@b:c!$&'()*+,=", NULL};
    const char *const bad[] = {"app", "", "/a b", "/a?x", "/a#x", "/a\t", "/é", "/a\x7f", NULL};
    const char *const not_canonical[] = {"/a%41", "/a%2f", "/a/../b", "/a/./b", "/a//b", "//", "/a;x", "/a\\b", "/a/..", NULL};
    accepts(&k_path, c, good, bad, "");
    accepts(&k_path, c, (const char *const[]){NULL}, not_canonical, "a route path must be canonical");
    CHECK(strcmp(c->s, "/a@b:c!$&'()*+,=") == 0);
    static char too_long[1100];
    too_long[0] = '/';
    memset(too_long + 1, 'a', 1024);
    accepts(&k_path, c, (const char *const[]){NULL}, (const char *const[]){too_long, NULL}, "expected a URL path");
    k_path.type->dispose(&k_path, c);
}

static void test_lists(conf_t *c)
{
    static char long_scope[300];
    memset(long_scope, 's', 257);
    const char *const scopes[] = {"openid", "profile", "a:b/c", "!#$%&'()*+,-./", NULL};
    const char *const not_scopes[] = {"a b", "a\"b", "a\\b", "é", "a\tb", NULL};
    accepts(&k_scopes, c, scopes, not_scopes, "a scope must not contain");
    accepts(&k_scopes, c, (const char *const[]){NULL}, (const char *const[]){"", long_scope, NULL}, "expected a scope name");
    accepts(&k_strings, c, (const char *const[]){"a", "b c", NULL}, (const char *const[]){"", "a\nb", NULL}, "");
    const char *const cidrs[] = {"127.0.0.0/8", "::1/128", "10.1.2.3", "0.0.0.0/0", "fe80::/10", NULL};
    const char *const not_cidrs[] = {"10.1.2.3/8", "127.0.0.0/33", "::1/129", "localhost", "127.0.0.0/", "/8", "1.2.3/24", NULL};
    accepts(&k_cidrs, c, cidrs, not_cidrs, "/");
    char msg[HUB_CONF_MSG];
    CHECK(parse(&k_cidrs, c, "10.1.2.3/8", msg) == -1 && strncmp(msg, "10.1.2.3/8: ", 12) == 0); /* the item is named */
    CHECK(c->list == NULL && c->n == 0); /* items are only checked: the list code stores them */
    /* the list helpers: a list replaces the one before it (nothing leaks under ASan), dispose empties */
    for (size_t round = 1; round != 4; ++round) {
        char **list = calloc(round + 1, sizeof(char *));
        for (size_t i = 0; i != round; ++i)
            list[i] = strdup("item");
        hub_conf_set_list(&k_strings, c, list, round);
        CHECK(c->list == list && c->n == round);
    }
    k_strings.type->dispose(&k_strings, c);
    CHECK(c->list == NULL && c->n == 0);
    hub_conf_free_list(NULL);
}

static void test_type_table(void)
{
    const hub_conf_type_t *const types[] = {&hub_conf_string,   &hub_conf_name,       &hub_conf_bool,   &hub_conf_uint,
                                            &hub_conf_duration, &hub_conf_enum,       &hub_conf_listen, &hub_conf_url,
                                            &hub_conf_upstream, &hub_conf_route_path, &hub_conf_scopes, &hub_conf_strings,
                                            &hub_conf_cidrs};
    for (size_t i = 0; i != sizeof(types) / sizeof(types[0]); ++i) {
        int list = types[i] == &hub_conf_scopes || types[i] == &hub_conf_strings || types[i] == &hub_conf_cidrs;
        CHECK(types[i]->parse != NULL && types[i]->kind == (list ? HUB_CONF_LIST : HUB_CONF_SCALAR));
        CHECK(types[i] == &hub_conf_enum ? types[i]->expect == NULL : types[i]->expect != NULL); /* an enum names its values */
        /* what is stored on the heap has a dispose */
        int heap = list || types[i] == &hub_conf_string || types[i] == &hub_conf_name || types[i] == &hub_conf_listen ||
                   types[i] == &hub_conf_url || types[i] == &hub_conf_upstream || types[i] == &hub_conf_route_path;
        CHECK((types[i]->dispose != NULL) == heap);
    }
}

int main(void)
{
    conf_t c;
    memset(&c, 0, sizeof(c));
    test_type_table();
    test_strings(&c);
    test_numbers(&c);
    test_enum(&c);
    test_listen(&c);
    test_urls(&c);
    test_route_paths(&c);
    test_lists(&c);
    return check_report("hub/config_types");
}
