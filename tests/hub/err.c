/* Tests hub/err.c: hub_strerror names every code of the table with its own message, success as "success", and any
 * other number (positive, past either end of the table, the enum's start marker) as "unknown error", never NULL. */
#include <limits.h>
#include <string.h>
#include "hub/err.h"
#include "tests/check.h"

/* The table as the header declares it: every code with its message. */
static const struct {
    int code;
    const char *name, *msg;
} table[] = {
#define XX(name, msg) {HUB_E_##name, #name, msg},
    HUB_ERRNO_MAP(XX)
#undef XX
};
#define NCODES (sizeof(table) / sizeof(table[0]))

static void test_every_code(void)
{
    for (size_t i = 0; i != NCODES; ++i) {
        const char *s = hub_strerror(table[i].code);
        CHECK(table[i].code < 0);
        CHECK(s != NULL && strcmp(s, table[i].msg) == 0);
        CHECK(strcmp(s, "unknown error") != 0 && strcmp(s, "success") != 0 && *s != '\0');
        for (size_t j = 0; j != i; ++j) { /* codes and messages are one to one */
            CHECK(table[j].code != table[i].code);
            CHECK(strcmp(hub_strerror(table[j].code), s) != 0);
        }
    }
    /* a few spelt out, so that a table and a switch that drifted together would still be caught */
    CHECK(strcmp(hub_strerror(HUB_E_NOMEM), "out of memory") == 0);
    CHECK(strcmp(hub_strerror(HUB_E_NOTFOUND), "not found") == 0);
    CHECK(strcmp(hub_strerror(HUB_E_CONFIG), "configuration error") == 0);
    CHECK(strcmp(hub_strerror(HUB_E_BUSY), "busy") == 0);
    CHECK(strcmp(hub_strerror(HUB_E_UNAVAILABLE), "the database is unreachable") == 0);
    CHECK(strcmp(hub_strerror(HUB_OK), "success") == 0 && HUB_OK == 0);
    CHECK(NCODES == 19);
}

static void test_unknown(void)
{
    int lowest = 0, highest = INT_MIN;
    for (size_t i = 0; i != NCODES; ++i) {
        lowest = table[i].code < lowest ? table[i].code : lowest;
        highest = table[i].code > highest ? table[i].code : highest;
    }
    const int unknown[] = {1, 2, 42, -1, -2, lowest - 1, highest + 1, -1000, -1001, INT_MIN, INT_MAX, -(int)NCODES};
    for (size_t i = 0; i != sizeof(unknown) / sizeof(unknown[0]); ++i) {
        const char *s = hub_strerror(unknown[i]);
        int in_table = 0;
        for (size_t j = 0; j != NCODES; ++j)
            in_table |= table[j].code == unknown[i];
        CHECK(!in_table);
        CHECK(s != NULL && strcmp(s, "unknown error") == 0);
    }
}

int main(void)
{
    test_every_code();
    test_unknown();
    return check_report("hub/err");
}
