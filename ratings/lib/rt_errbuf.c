/* rt_errbuf.c: see rt_errbuf.h. */
#include "rt_errbuf.h"

#include <stdarg.h>
#include <stdio.h>

void rt_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
