/* libFuzzer target: the body of the Plausible-compatible POST /api/event (tly_plausible_parse). */
#include "first.h"
#include "plausible.h"
#include "fuzz_check.h"
#include "utf8.h"

#include <stdint.h>
#include <string.h>

#define NOW 1769278353000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tly_event ev;
    json_t *domains;
    char why[256];
    if (tly_plausible_parse((const char *)data, size, NOW, &ev, &domains, why, sizeof why) != 0) {
        FUZZ_CHECK(domains == NULL);
        FUZZ_CHECK(why[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(memchr(data, '\0', size) == NULL);   /* a NUL byte is never JSON */
    FUZZ_CHECK(json_is_array(domains));
    size_t i;
    json_t *d;
    json_array_foreach(domains, i, d) {
        FUZZ_CHECK(json_is_string(d) && json_string_length(d) > 0 && json_string_length(d) <= 253);
    }
    FUZZ_CHECK(tly_event_name_valid(ev.name, strlen(ev.name)));
    FUZZ_CHECK(ev.path[0] == '/');
    FUZZ_CHECK(ev.ts_ms == NOW);
    const char *texts[] = {ev.hostname, ev.path, ev.query, ev.referrer, ev.utm_source, ev.utm_medium,
                           ev.utm_campaign, ev.utm_term, ev.utm_content};
    for (size_t k = 0; k < TLY_ARRAY_LEN(texts); k++) FUZZ_CHECK(tly_utf8_valid(texts[k], strlen(texts[k])));
    FUZZ_CHECK((ev.revenue_amount == NULL) == (ev.revenue_currency == NULL));
    tly_event_clear(&ev);
    json_decref(domains);
    return 0;
}
