/* libFuzzer target: the ingest envelope of POST /v1/events (tly_envelope_parse), then every event
 * in it (tly_event_parse), with the promises of envelope.h checked on what comes back. Each input
 * is a request with its own JSON arena, as in track.fcgi: ASan reports a value used after the
 * arena's end. */
#include "first.h"
#include "envelope.h"
#include "fuzz_check.h"
#include "json_arena.h"
#include "utf8.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define NOW 1769278353000LL   /* 2026-01-24T18:12:33Z: a fixed clock keeps runs reproducible */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s)
{
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(tly_utf8_valid(s, strlen(s)));
}

static void check_event(const tly_event *ev)
{
    const char *always[] = {ev->name, ev->hostname, ev->path, ev->query, ev->title, ev->referrer,
                            ev->utm_source, ev->utm_medium, ev->utm_campaign, ev->utm_term,
                            ev->utm_content, ev->campaign_id};
    for (size_t i = 0; i < TLY_ARRAY_LEN(always); i++) check_text(always[i]);
    FUZZ_CHECK(tly_event_name_valid(ev->name, strlen(ev->name)));
    FUZZ_CHECK(ev->path[0] == '\0' || ev->path[0] == '/');
    FUZZ_CHECK(ev->screen_width >= -1);
    FUZZ_CHECK(ev->ts_ms <= NOW + 10 * 60 * 1000);
    FUZZ_CHECK((ev->revenue_amount == NULL) == (ev->revenue_currency == NULL));
    if (ev->revenue_currency) FUZZ_CHECK(strlen(ev->revenue_currency) == 3);
    if (ev->props) FUZZ_CHECK(json_is_object(ev->props) && json_object_size(ev->props) > 0);
    /* A server key's end user: both or neither, and the address is one. */
    FUZZ_CHECK((ev->client_ip == NULL) == (ev->client_ua == NULL));
    if (ev->client_ip) {
        unsigned char addr[16];
        FUZZ_CHECK(inet_pton(AF_INET, ev->client_ip, addr) == 1 || inet_pton(AF_INET6, ev->client_ip, addr) == 1);
        check_text(ev->client_ua);
    }
}

static void parse_request(const uint8_t *data, size_t size)
{
    tly_envelope env;
    tly_envelope_error err;
    if (tly_envelope_parse((const char *)data, size, 1000, &env, &err) != 0) {
        FUZZ_CHECK(err.status == 400 || err.status == 413);
        FUZZ_CHECK(err.message[0] != '\0');
        return;
    }
    FUZZ_CHECK(memchr(data, '\0', size) == NULL);   /* a NUL byte is never JSON */
    FUZZ_CHECK(env.property_id != NULL && env.property_id[0] != '\0');
    FUZZ_CHECK(json_is_array(env.events) && json_array_size(env.events) <= 1000);
    for (size_t i = 0; i < json_array_size(env.events); i++) {
        tly_event ev;
        char why[256];
        if (tly_event_parse(&env, i, NOW, &ev, why, sizeof why) != 0) {
            FUZZ_CHECK(why[0] != '\0');
            continue;
        }
        check_event(&ev);
        tly_event_clear(&ev);
    }
    tly_envelope_clear(&env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool arena_ready;
    if (!arena_ready) {
        tly_json_arena_setup(1, (size_t)16 << 20);   /* as track.fcgi (JSON_ARENA_BYTES) */
        arena_ready = true;
    }
    tly_json_arena_begin();
    parse_request(data, size);
    tly_json_arena_end();
    return 0;
}
