/* Checks of the values the admin API accepts. Each returns NULL when the value is fine, or what is
 * wrong with it as a phrase the caller puts after the field name ("email: not an email address").
 * Strings are (ptr, len) as they came out of the JSON body (well-formed UTF-8, no NUL). */
#ifndef TLY_ADMIN_VALIDATE_H
#define TLY_ADMIN_VALIDATE_H
#include "first.h"
#include <stdbool.h>
#include <stddef.h>

typedef const char *(*tly_admin_check_fn)(const char *s, size_t len);

/* Roles on a property, in increasing power. */
typedef enum { TLY_ROLE_NONE, TLY_ROLE_VIEWER, TLY_ROLE_ADMIN, TLY_ROLE_OWNER } tly_admin_role;

const char *tly_admin_check_email(const char *s, size_t len);
/* A new password: at least 10 characters, at most 1024 bytes. */
const char *tly_admin_check_password(const char *s, size_t len);
/* A password given to prove who one is: only its length is checked (at most 1024 bytes), so that
 * rules made later never lock out an older password. */
const char *tly_admin_check_password_given(const char *s, size_t len);
/* A display name (property, goal): 1-120 characters, not blank, no controls. */
const char *tly_admin_check_name(const char *s, size_t len);
/* An optional label (key, share link): like a name, but may be empty. */
const char *tly_admin_check_label(const char *s, size_t len);
/* A host name ("example.com", "localhost"), letters, digits, '-' and '_' in dot-separated labels. */
const char *tly_admin_check_domain(const char *s, size_t len);
/* An allowed origin: "*", a host name (any scheme and port), or scheme://host[:port]. */
const char *tly_admin_check_origin(const char *s, size_t len);
/* An excluded path: starts with '/'; a trailing '*' makes it a prefix. */
const char *tly_admin_check_excluded_path(const char *s, size_t len);
const char *tly_admin_check_excluded_address(const char *s, size_t len);
/* A goal's page path pattern: starts with '/'; '*' matches any run of characters. */
const char *tly_admin_check_path_pattern(const char *s, size_t len);
/* A custom event name, as ingest accepts it. */
const char *tly_admin_check_event_name(const char *s, size_t len);
/* The shape of an IANA time zone name; whether it exists is the database's pg_timezone_names. */
const char *tly_admin_check_timezone(const char *s, size_t len);
/* A Stripe webhook signing secret: "whsec_" and base64 characters, 10-200 bytes in all. */
const char *tly_admin_check_stripe_secret(const char *s, size_t len);
/* A property id ("prop_" + 1-60 of [A-Za-z0-9_-]), as the properties table allows. */
bool tly_admin_property_id_valid(const char *s, size_t len);

/* "owner", "admin", "viewer" -> role; anything else -> TLY_ROLE_NONE. */
tly_admin_role tly_admin_role_parse(const char *s);
const char *tly_admin_role_name(tly_admin_role role);

#endif
