/* reader.h: streaming readers for battle (vote) files.
 *
 * Formats: FastChat clean-battle JSON (a top-level array of objects), JSON Lines (one such
 * object per line) and CSV with a header row. gzip input is decompressed transparently.
 * The reader streams: memory does not grow with the file, and nothing is allocated per
 * record. Each valid record is handed to a callback; the strings in rd_record point into
 * the reader's buffers and are valid only during that call (the caller copies or interns
 * what it keeps). The reader owns all of its memory and frees it before rd_read returns. */
#ifndef ARENA_READER_H
#define ARENA_READER_H

#include <stddef.h>

typedef enum { RD_WIN_A, RD_WIN_B, RD_TIE, RD_TIE_BOTHBAD } rd_winner;
typedef enum { RD_FORMAT_AUTO, RD_FORMAT_JSON, RD_FORMAT_JSONL, RD_FORMAT_CSV } rd_format;

typedef struct rd_record {
    const char *model_a, *model_b;   /* NUL-terminated; valid only during the callback */
    rd_winner winner;
    double tstamp;                   /* NAN when absent */
    int anony;                       /* 1, 0, or -1 when absent */
    int turn;                        /* 0 when absent */
    const char *judge, *language, *question_id;  /* NULL when absent; valid during the callback */
    const char *conversation_a, *conversation_b; /* with rd_options.conversations (JSON and
                                                    JSON Lines): each as compact JSON text when
                                                    the record has it as an array or object;
                                                    otherwise NULL; valid during the callback */
    size_t index;                    /* JSON array: 0-based element index; JSONL/CSV: 1-based line number */
} rd_record;

/* CSV header names; NULL = defaults model_a,model_b,winner,tstamp. */
typedef struct rd_columns { const char *a, *b, *winner, *tstamp; } rd_columns;

/* strict: self-battles and unknown winner values are errors instead of skipped records. */
/* conversations: also deliver conversation_a / conversation_b (costs a re-write of their
 * text; fits do not need them, imports do). */
typedef struct rd_options { rd_format format; rd_columns columns; int strict; int conversations; } rd_options;

/* records: well-formed records seen (delivered + skipped_self + skipped_winner);
 * delivered: handed to the callback (not counting one that returned -1);
 * skipped_self: model_a == model_b; skipped_winner: a winner rd_parse_winner does not know;
 * format: the format actually read (the requested one, or AUTO, for empty input). */
typedef struct rd_stats { size_t records, delivered, skipped_self, skipped_winner; rd_format format; } rd_stats;

/* Called once per valid record. Return 0 to go on, -1 to stop (rd_read then returns -1 and keeps the
 * callback's message if it wrote one into err). */
typedef int (*rd_callback)(void *ud, const rd_record *r, char *err, size_t errlen);

/* path "-" = stdin. gzip input (magic 1f 8b) is decompressed transparently (zlib).
 * opt may be NULL (auto-detect, default columns, not strict); stats may be NULL (it is
 * filled on failure too); cb may be NULL (count only).
 * Returns 0, or -1 with err = "FILE: record N: field F: what is wrong" style message
 * (FILE is "<stdin>" for "-"; N as in rd_record.index; "field F" when one field is at fault).
 * Empty or white-space-only input is not an error: 0 records.
 * CSV: the header names the columns (rd_columns; a named tstamp column must exist); the
 * optional columns anony, turn, judge, language and question_id are read when present;
 * an empty optional cell is an absent field. A UTF-8 byte order mark is skipped.
 * Kept strings must be valid UTF-8 without NUL; model names must not be empty. */
int rd_read(const char *path, const rd_options *opt, rd_callback cb, void *ud, rd_stats *stats, char *err, size_t errlen);

/* The same over an in-memory buffer (plain or gzip); name is used in error messages. */
int rd_read_buffer(const void *buf, size_t len, const char *name, const rd_options *opt, rd_callback cb, void *ud,
                   rd_stats *stats, char *err, size_t errlen);

/* Parses "model_a"/"a"/"left", "model_b"/"b"/"right", "tie", "tie (bothbad)"/"bothbad"
 * (case-insensitive) into *out; -1 if unknown. */
int rd_parse_winner(const char *s, size_t len, rd_winner *out);

/* The FastChat spelling of a winner: "model_a", "model_b", "tie", "tie (bothbad)". */
const char *rd_winner_name(rd_winner w);

/* "auto", "json", "jsonl", "csv". */
const char *rd_format_name(rd_format f);

/* Parses "auto"/"json"/"jsonl"/"csv" into *out; -1 if unknown. */
int rd_parse_format(const char *s, rd_format *out);

#endif
