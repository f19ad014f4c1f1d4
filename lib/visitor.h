/* Cookieless visitor identity. A visitor is
 *     BLAKE2b-64(key = daily salt, property_id ‖ 0 ‖ client address ‖ 0 ‖ user agent)
 * so the same person is recognised within a day on one site, never across sites, and never
 * again once the day's salt is destroyed. Sites with consent may send their own visitor or
 * session id; those are hashed with the property's own secret key instead. */
#ifndef TLY_VISITOR_H
#define TLY_VISITOR_H
#include "first.h"
#include <stddef.h>
#include <stdint.h>

#define TLY_SALT_BYTES 32

int64_t tly_visitor_hash(const uint8_t salt[TLY_SALT_BYTES], const char *property_id,
                         const char *client_ip, const char *user_agent, size_t ua_len)
    TLY_NONNULL(1, 2, 3, 4);
/* For identity.visitor_id (kind "visitor") and identity.session_id (kind "session"). */
int64_t tly_visitor_hash_client_id(const uint8_t property_key[TLY_SALT_BYTES], const char *kind,
                                   const char *property_id, const char *id, size_t id_len)
    TLY_NONNULL(1, 2, 3, 4);

#endif
