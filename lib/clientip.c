#include "first.h"
#include "clientip.h"
#include "mem.h"
#include "strict.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Addresses are kept as 16 bytes; IPv4 in its mapped form ::ffff:a.b.c.d, so one comparison
 * covers both families and a mapped address matches an IPv4 range. */
typedef struct cidr {
    uint8_t addr[16];
    int prefix;          /* 0-128, counted on the 16-byte form */
} cidr;

struct tly_cidr_list {
    cidr *items;
    size_t count;
};

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses one address into the 16-byte form. Returns 4 or 6 (the family as written), 0 invalid. */
static int parse_addr(const char *text, uint8_t out[16])
{
    struct in_addr v4;
    if (inet_pton(AF_INET, text, &v4) == 1) {
        memcpy(out, v4_mapped_prefix, 12);
        memcpy(out + 12, &v4, 4);
        return 4;
    }
    return inet_pton(AF_INET6, text, out) == 1 ? 6 : 0;
}

static bool is_mapped(const uint8_t addr[16])
{
    return memcmp(addr, v4_mapped_prefix, 12) == 0;
}

static bool cidr_contains(const cidr *c, const uint8_t addr[16])
{
    int full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, addr, (size_t)full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (addr[full] & mask);
}

/* Parses "addr" or "addr/prefix" of at most 63 characters. 0 ok, -1 invalid. */
static int parse_cidr(const char *item, size_t len, cidr *out)
{
    char text[64];
    if (len == 0 || len >= sizeof text) return -1;
    memcpy(text, item, len);
    text[len] = '\0';
    char *slash = strchr(text, '/');
    if (slash) *slash = '\0';
    int family = parse_addr(text, out->addr);
    if (!family) return -1;
    int max = family == 4 ? 32 : 128;
    long long prefix = max;
    /* Digits only: tly_strict_int alone would take "-0" as /0, trusting every address. */
    if (slash) {
        const char *digits = slash + 1;
        size_t n = strlen(digits);
        if (n == 0 || n > 3 || strspn(digits, "0123456789") != n ||
            tly_strict_int(digits, n, 0, max, &prefix) != 0)
            return -1;
    }
    out->prefix = (int)prefix + (family == 4 ? 96 : 0);
    /* Clear host bits so that 10.1.2.3/8 means 10.0.0.0/8. */
    for (int bit = out->prefix; bit < 128; bit++) out->addr[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
    return 0;
}

tly_cidr_list *tly_cidr_list_parse(const char *spec, char *err, size_t errlen)
{
    tly_cidr_list *list = tly_xcalloc(1, sizeof *list);
    const char *p = spec;
    while (*p) {
        p += strspn(p, ", \t\r\n");
        size_t n = strcspn(p, ", \t\r\n");
        if (n == 0) break;
        cidr c;
        if (parse_cidr(p, n, &c) != 0) {
            snprintf(err, errlen, "'%.*s' is not an IP address or CIDR range", (int)(n > 64 ? 64 : n), p);
            tly_cidr_list_free(list);
            return NULL;
        }
        list->items = tly_xrealloc(list->items, (list->count + 1) * sizeof *list->items);
        list->items[list->count++] = c;
        p += n;
    }
    return list;
}

void tly_cidr_list_free(tly_cidr_list *list)
{
    if (!list) return;
    free(list->items);
    free(list);
}

static bool list_contains_addr(const tly_cidr_list *list, const uint8_t addr[16])
{
    for (size_t i = 0; i < list->count; i++)
        if (cidr_contains(&list->items[i], addr)) return true;
    return false;
}

bool tly_cidr_list_contains(const tly_cidr_list *list, const char *ip)
{
    uint8_t addr[16];
    return parse_addr(ip, addr) && list_contains_addr(list, addr);
}

bool tly_cidr_valid(const char *text)
{
    cidr c;
    return parse_cidr(text, strlen(text), &c) == 0;
}

bool tly_cidr_contains(const char *range, const char *ip)
{
    cidr c;
    uint8_t addr[16];
    return parse_cidr(range, strlen(range), &c) == 0 && parse_addr(ip, addr) && cidr_contains(&c, addr);
}

static void format_addr(const uint8_t addr[16], char out[TLY_IP_TEXT_LEN])
{
    if (is_mapped(addr)) inet_ntop(AF_INET, addr + 12, out, TLY_IP_TEXT_LEN);
    else inet_ntop(AF_INET6, addr, out, TLY_IP_TEXT_LEN);
}

/* True for ":1" to ":65535"-style port suffixes (1-5 digits; the value itself is not needed). */
static bool is_port_suffix(const char *s)
{
    size_t n = strlen(s + 1);
    return s[0] == ':' && n >= 1 && n <= 5 && strspn(s + 1, "0123456789") == n;
}

/* Parses one trimmed X-Forwarded-For entry [start, end). Returns 4 or 6, 0 invalid. Brackets
 * and ports of the forms "[v6]", "[v6]:port" and "v4:port" are accepted, as some proxies write
 * them; anything else after the address makes the entry invalid. */
static int parse_xff_entry(const char *start, const char *end, uint8_t out[16])
{
    while (start < end && (*start == ' ' || *start == '\t')) start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
    char text[64];
    size_t n = (size_t)(end - start);
    if (n == 0 || n >= sizeof text) return 0;
    memcpy(text, start, n);
    text[n] = '\0';
    char *host = text;
    if (host[0] == '[') {
        char *close = strchr(host, ']');
        if (!close || (close[1] != '\0' && !is_port_suffix(close + 1))) return 0;
        *close = '\0';
        host++;
        return parse_addr(host, out) == 6 ? 6 : 0;
    }
    char *colon = strchr(host, ':');
    if (colon && !strchr(colon + 1, ':')) {                      /* exactly one colon: v4:port */
        if (!is_port_suffix(colon)) return 0;
        *colon = '\0';
        return parse_addr(host, out) == 4 ? 4 : 0;
    }
    return parse_addr(host, out);
}

int tly_clientip_resolve(const char *remote_addr, const char *xff, const tly_cidr_list *trusted,
                         char out[TLY_IP_TEXT_LEN])
{
    uint8_t addr[16];
    if (!parse_addr(remote_addr, addr)) {
        out[0] = '\0';
        return -1;
    }
    /* Walk X-Forwarded-For from the right while the hop we stand on is a trusted proxy; an
     * invalid entry ends the walk at the last valid address. */
    if (xff && list_contains_addr(trusted, addr)) {
        const char *end = xff + strlen(xff);
        while (end > xff && list_contains_addr(trusted, addr)) {
            const char *comma = end;
            while (comma > xff && comma[-1] != ',') comma--;
            uint8_t hop[16];
            if (!parse_xff_entry(comma, end, hop)) {
                /* Empty entries (",,") are skipped; garbage stops the walk. */
                const char *s = comma;
                while (s < end && (*s == ' ' || *s == '\t')) s++;
                if (s != end) break;
            } else {
                memcpy(addr, hop, sizeof addr);
            }
            end = comma > xff ? comma - 1 : xff;
        }
    }
    format_addr(addr, out);
    return 0;
}
