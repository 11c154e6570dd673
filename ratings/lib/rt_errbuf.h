/* rt_errbuf.h: formatting an error message into a caller's buffer (internal to the
 * ratings library, whose functions report errors through `char *err, size_t errlen`).
 * Named apart from inference/lib/errbuf.h because both folders are on the include path. */
#ifndef RT_ERRBUF_H
#define RT_ERRBUF_H

#include <stddef.h>

/* snprintf into ERR (ERRLEN bytes); nothing when ERR is NULL or ERRLEN is 0. */
void rt_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
