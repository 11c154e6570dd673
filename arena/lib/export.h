/* export.h: vote records out as FastChat clean-battle JSON or CSV, streamed.
 *
 *   export_writer *w = export_new(EXPORT_JSON, &filter, sink, ud, err, sizeof err);
 *   export_begin(w);                              // "[" or the CSV header
 *   for each page of store_scan_votes: for each record: export_record(w, &rec);
 *   export_end(w);                                // "]" (JSON)
 *   export_free(w);
 *
 * JSON: one array; each element has FastChat's clean-battle fields question_id, model_a,
 * model_b, winner, judge, conversation_a, conversation_b, turn, anony, language, tstamp,
 * plus ours: leak, mode ("anony"/"named"). anony is true only for anonymous battles
 * without an identity leak (FastChat drops leaked battles from its clean data; we keep
 * them with leak: true, named as not anonymous), so that any reader filtering on anony
 * (arena-ratings fit --anony-only, FastChat's elo_analysis) gets exactly the anonymous
 * board. CSV: header model_a,model_b,winner,tstamp,anony,turn,language,judge,question_id
 * (RFC 4180 quoting), anony as 1/0 with the same meaning.
 *
 * Filters: anony_only keeps records whose exported anony is true; since keeps
 * tstamp >= since (NAN = everything).
 *
 * Output goes through the sink, one call per piece (the header, each record, the end),
 * from a buffer the writer reuses (no allocation per record once it has grown). The
 * sink copies what it keeps (evbuffer_add) and returns 0, or -1 to fail the writer.
 * Ownership: the writer owns its buffer; export_free releases it. One writer per
 * stream; not thread-safe, no global state. */
#ifndef ARENA_EXPORT_H
#define ARENA_EXPORT_H

#include <stddef.h>

#include "store.h"

typedef enum { EXPORT_JSON = 0, EXPORT_CSV } export_format;

typedef struct export_filter {
    int anony_only;
    double since;                 /* NAN = no bound */
} export_filter;

typedef int (*export_sink)(void *ud, const char *data, size_t len);

typedef struct export_writer export_writer;

/* filter may be NULL (everything). NULL with err set on no memory. */
export_writer *export_new(export_format fmt, const export_filter *filter, export_sink sink,
                          void *ud, char *err, size_t errlen);
void export_free(export_writer *w);

/* 0, or -1 when the sink failed (then every later call fails too). */
int export_begin(export_writer *w);
/* 1 written, 0 filtered out, -1 sink failure. */
int export_record(export_writer *w, const store_vote_record *r);
int export_end(export_writer *w);

/* Records written so far. */
size_t export_count(const export_writer *w);

/* "application/json" / "text/csv; charset=utf-8". */
const char *export_content_type(export_format fmt);

#endif
