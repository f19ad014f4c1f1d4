#include "first.h"
#include "admin_validate.h"
#include "clientip.h"
#include "envelope.h"
#include "limits.h"
#include "utf8.h"

#include <string.h>
#include <strings.h>

static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static bool has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (is_control((unsigned char)s[i])) return true;
    return false;
}

static bool ascii_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

const char *tly_admin_check_email(const char *s, size_t len)
{
    if (len > TLY_ADMIN_MAX_EMAIL_LEN) return "longer than 254 bytes";
    const char *at = memchr(s, '@', len);
    if (!at || at == s || at == s + len - 1 || memchr(at + 1, '@', len - (size_t)(at - s) - 1))
        return "not an email address (expected name@domain)";
    for (size_t i = 0; i < len; i++)
        if (is_control((unsigned char)s[i]) || s[i] == ' ' || s[i] == ',' || s[i] == '<' || s[i] == '>')
            return "not an email address (no spaces, commas, angle brackets or control characters)";
    if (!tly_utf8_valid(s, len)) return "not valid UTF-8";
    return NULL;
}

const char *tly_admin_check_password(const char *s, size_t len)
{
    if (len > TLY_ADMIN_MAX_PASSWORD_LEN) return "longer than 1024 bytes";
    if (!tly_utf8_valid(s, len)) return "not valid UTF-8";
    if (tly_utf8_length(s, len) < TLY_ADMIN_MIN_PASSWORD_CHARS) return "shorter than 10 characters";
    return NULL;
}

const char *tly_admin_check_password_given(const char *s, size_t len)
{
    (void)s;
    return len > TLY_ADMIN_MAX_PASSWORD_LEN ? "longer than 1024 bytes" : NULL;
}

const char *tly_admin_check_name(const char *s, size_t len)
{
    if (!tly_utf8_valid(s, len)) return "not valid UTF-8";
    size_t chars = tly_utf8_length(s, len);
    if (chars < 1 || chars > TLY_ADMIN_MAX_NAME_CHARS) return "must be 1-120 characters";
    if (has_control(s, len)) return "contains control characters";
    size_t blank = 0;
    while (blank < len && s[blank] == ' ') blank++;
    if (blank == len) return "must not be blank";
    return NULL;
}

const char *tly_admin_check_label(const char *s, size_t len)
{
    return len == 0 ? NULL : tly_admin_check_name(s, len);
}

const char *tly_admin_check_domain(const char *s, size_t len)
{
    if (len < 1 || len > 253) return "not a host name (1-253 characters)";
    size_t label = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (label == 0 || label > 63) return "not a host name (empty or over-long label)";
            if (s[i - 1] == '-' || s[i - label] == '-') return "not a host name (a label starts or ends with '-')";
            label = 0;
        } else if (ascii_alnum(s[i]) || s[i] == '-' || s[i] == '_') {
            label++;
        } else {
            return "not a host name (letters, digits, '-', '_' and dots only; no scheme, port or path)";
        }
    }
    return NULL;
}

/* "host", "host:port" or "[v6]:port" after a scheme. */
static const char *check_origin_authority(const char *s, size_t len)
{
    const char *host = s;
    size_t host_len = len;
    const char *port = NULL;
    if (len && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close || close == s + 1) return "not an origin (bad IPv6 literal)";
        for (const char *p = s + 1; p < close; p++)
            if (!(ascii_alnum(*p) || *p == ':' || *p == '.')) return "not an origin (bad IPv6 literal)";
        size_t used = (size_t)(close - s) + 1;
        if (used < len) {
            if (s[used] != ':') return "not an origin (no path: scheme://host[:port])";
            port = s + used + 1;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon) {
            host_len = (size_t)(colon - s);
            port = colon + 1;
        }
        if (memchr(host, '/', host_len)) return "not an origin (no path: scheme://host[:port])";
        if (tly_admin_check_domain(host, host_len)) return "not an origin (bad host name)";
    }
    if (port) {
        size_t n = len - (size_t)(port - s);
        long value = 0;
        if (n < 1 || n > 5) return "not an origin (bad port)";
        for (size_t i = 0; i < n; i++) {
            if (port[i] < '0' || port[i] > '9') return "not an origin (no path: scheme://host[:port])";
            value = value * 10 + (port[i] - '0');
        }
        if (value < 1 || value > 65535) return "not an origin (bad port)";
    }
    return NULL;
}

const char *tly_admin_check_origin(const char *s, size_t len)
{
    if (len == 1 && s[0] == '*') return NULL;
    if (len > TLY_ADMIN_MAX_ITEM_LEN) return "longer than 500 bytes";
    const char *sep = memmem(s, len, "://", 3);
    if (!sep) return tly_admin_check_domain(s, len) ? "not an origin (\"*\", a host name, or scheme://host[:port])"
                                                    : NULL;
    size_t scheme_len = (size_t)(sep - s);
    if (!((scheme_len == 4 && strncasecmp(s, "http", 4) == 0) ||
          (scheme_len == 5 && strncasecmp(s, "https", 5) == 0)))
        return "not an origin (the scheme must be http or https)";
    return check_origin_authority(sep + 3, len - scheme_len - 3);
}

static const char *check_path_like(const char *s, size_t len, size_t max)
{
    if (len < 1 || s[0] != '/') return "must start with '/'";
    if (len > max) return "longer than 500 bytes";
    if (has_control(s, len)) return "contains control characters";
    if (!tly_utf8_valid(s, len)) return "not valid UTF-8";
    return NULL;
}

const char *tly_admin_check_excluded_path(const char *s, size_t len)
{
    return check_path_like(s, len, TLY_ADMIN_MAX_ITEM_LEN);
}

const char *tly_admin_check_excluded_address(const char *s, size_t len)
{
    /* The longest range is an IPv6 address written in full with an IPv4 tail, and /128: 49
     * characters. */
    if (len < 1 || len > 49 || strlen(s) != len || !tly_cidr_valid(s))
        return "not an IP address or CIDR range (192.0.2.7, 192.0.2.0/24, 2001:db8::/32)";
    return NULL;
}

const char *tly_admin_check_path_pattern(const char *s, size_t len)
{
    return check_path_like(s, len, TLY_ADMIN_MAX_PATTERN_LEN);
}

const char *tly_admin_check_event_name(const char *s, size_t len)
{
    if (strcmp(s, "pageview") == 0) return "pageviews are goals by path: use path_pattern";
    return tly_event_name_valid(s, len) ? NULL
                                        : "must be 1-64 characters of letters, digits, _ - . : / and space";
}

const char *tly_admin_check_timezone(const char *s, size_t len)
{
    if (len < 1 || len > 64) return "not a time zone name (1-64 characters, e.g. Europe/Berlin)";
    for (size_t i = 0; i < len; i++)
        if (!(ascii_alnum(s[i]) || strchr("/_+-", s[i])))
            return "not a time zone name (e.g. Europe/Berlin or UTC)";
    return NULL;
}

const char *tly_admin_check_stripe_secret(const char *s, size_t len)
{
    static const char prefix[] = "whsec_";
    if (len < sizeof prefix - 1 || memcmp(s, prefix, sizeof prefix - 1) != 0)
        return "must start with \"whsec_\" (the endpoint's signing secret in Stripe's dashboard)";
    if (len < TLY_ADMIN_MIN_STRIPE_SECRET || len > TLY_ADMIN_MAX_STRIPE_SECRET)
        return "must be 10-200 characters";
    for (size_t i = sizeof prefix - 1; i < len; i++)
        if (!(ascii_alnum(s[i]) || (s[i] && strchr("_-+/=", s[i]))))
            return "not a signing secret (whsec_ followed by letters, digits, _ - + / =)";
    return NULL;
}

bool tly_admin_property_id_valid(const char *s, size_t len)
{
    if (len < 6 || len > 65 || strncmp(s, "prop_", 5) != 0) return false;
    for (size_t i = 5; i < len; i++)
        if (!(ascii_alnum(s[i]) || s[i] == '_' || s[i] == '-')) return false;
    return true;
}

static const char *const role_names[] = {"", "viewer", "admin", "owner"};

tly_admin_role tly_admin_role_parse(const char *s)
{
    for (int r = TLY_ROLE_VIEWER; r <= TLY_ROLE_OWNER; r++)
        if (strcmp(s, role_names[r]) == 0) return (tly_admin_role)r;
    return TLY_ROLE_NONE;
}

const char *tly_admin_role_name(tly_admin_role role)
{
    return role_names[role];
}
