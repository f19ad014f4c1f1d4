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
 * there are any), and it builds visits every sessionize_ms (0: never; cron does it). Its
 * statements do bulk work, so it waits for the database's answers BACKGROUND_TIMEOUT_FACTOR times
 * database_timeout (0: as long as it takes) before it drops the connection and rests as ingest
 * does (db.h): a server that stops answering, or a connection that died unnoticed, then holds up
 * visits, the replay and the process's exit no longer than that. NULL when the thread cannot
 * start. */
#define BACKGROUND_TIMEOUT_FACTOR 6
tly_background *tly_background_start(const char *conninfo, const char *application_name,
                                     tly_spool *spool, tly_geo *geo, int sessionize_ms, int database_timeout)
    TLY_NONNULL(1, 2);
/* Does one last round (so that nothing stored before the stop waits for cron), then stops. */
void tly_background_stop(tly_background *bg);

#endif
