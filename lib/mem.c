#include "first.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TLY_COLD static void out_of_memory(size_t size)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"out of memory allocating %zu bytes\"}\n", size);
    abort();
}

void *tly_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) out_of_memory(size);
    return p;
}

void *tly_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory(count * size);
    return p;
}

void *tly_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p) out_of_memory(size);
    return p;
}

char *tly_xstrndup(const char *s, size_t len)
{
    char *p = tly_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *tly_xstrdup(const char *s)
{
    return tly_xstrndup(s, strlen(s));
}
