/* Request paths: the canonical form a node accepts, and how a lenient server might read a path (so a route guard and
 * the upstream behind it can be made to agree on which route a request belongs to). Pure functions, no allocation. */
#ifndef HUB_PATH_H
#define HUB_PATH_H

#include <stddef.h>

#define HUB_PATH_MAX 8192 /* bytes of a request path (without its query string) */

/* Checks that path[0..len) (a request path without its query string) is canonical: it starts with '/'; its bytes are
 * RFC 3986 path characters (unreserved, sub-delims but ';', ':', '@', '/', '%') or '[', ']', '|', '^' (which browsers
 * send unescaped); every '%' starts a valid escape, and no escape encodes a letter, a digit, '.', a delimiter ('/', '\',
 * ';', '?', '#'), a control character, or a '%' that starts another escape (double encoding); the escaped bytes are
 * valid UTF-8 without code points that Unicode compatibility mapping or Windows best-fit turn into '.', '/', '\', ';',
 * '?', '#', '%' or ':'; no segment is empty (except the last: a trailing '/') or made only of dots and spaces ("." and
 * ".." in every spelling). A path that passes reads the same to every server that decodes it: h2o's normalized path is
 * its plain percent-decoding. Returns 0, HUB_E_TOOBIG when len > HUB_PATH_MAX, else HUB_E_PARSE; *why (when why is not
 * NULL) is then a static phrase naming what was refused. */
int hub_path_check(const char *path, size_t len, const char **why);

/* Writes to out (which must hold len + 2 bytes) the path as a lenient server might read it, and returns its length
 * (out is NUL-terminated): percent-decoded; ASCII letters in lower case; code points that case folding or compatibility
 * mapping turn into ASCII letters (dotless i, long s, Kelvin sign, sharp s, ligatures, fullwidth forms) mapped to them;
 * invisible format characters (soft hyphen, zero-width space, BOM...) removed; '\' read as '/' and '+' as a space;
 * ";params", and trailing dots, spaces and "::$DATA" removed from each segment; empty and "." segments dropped and
 * ".." resolved. Any input is safe; it is meant for paths hub_path_check accepts. */
size_t hub_path_fold(const char *path, size_t len, char *out);

/* Whether path[0..len) falls under the route prefix[0..plen) (which begins with '/'): with the prefix's trailing '/'
 * removed as K, path is K or starts with K + '/'. So "/app/" covers "/app", "/app/" and "/app/x", not "/apps". */
int hub_path_under(const char *path, size_t len, const char *prefix, size_t plen);

#endif
