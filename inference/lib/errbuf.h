/* errbuf.h: formatting an error message into a caller's buffer (internal to the
 * inference library, whose functions report errors through `char *err, size_t errlen`). */
#ifndef INF_ERRBUF_H
#define INF_ERRBUF_H

#include <stddef.h>

/* snprintf into ERR (ERRLEN bytes); nothing when ERR is NULL or ERRLEN is 0. */
void inf_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
