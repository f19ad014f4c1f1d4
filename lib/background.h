/* track.fcgi's background thread, on its own database connection: replays the spool once the
 * database answers again (spool.h), reads the GeoIP database again when its file changes (geo.h),
 * and builds visits from newly stored events (sessionizer.h). */
#ifndef TLY_BACKGROUND_H
#define TLY_BACKGROUND_H
#include "first.h"
#include "geo.h"
#include "spool.h"

typedef struct tly_background tly_background;

/* Starts the thread. Every second it looks at the spool and at the GeoIP database's file (when
 * there are any), and it builds visits every sessionize_ms (0: never; cron does it). NULL when
 * the thread cannot start. */
tly_background *tly_background_start(const char *conninfo, const char *application_name,
                                     tly_spool *spool, tly_geo *geo, int sessionize_ms) TLY_NONNULL(1, 2);
/* Does one last round (so that nothing stored before the stop waits for cron), then stops. */
void tly_background_stop(tly_background *bg);

#endif
