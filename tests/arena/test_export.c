/* test_export.c: the round trip the issue asks for. Votes go into a real redis-server
 * through the store (a FastChat clean-battle file imported, then live battles voted on:
 * anonymous, named and identity-leak ones), the board follows the stream, the stream is
 * exported as clean-battle JSON and as CSV, and `arena-ratings fit` on each export must
 * print exactly the board's CSV (same ratings to the last bit, intervals, ranks, votes,
 * static columns). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "../check.h"
#include "board.h"
#include "export.h"
#include "reader.h"
#include "static.h"
#include "store_fixture.h"

static struct event_base *base;
static store *st;
static board *bd;

/* ---- import ---- */

typedef struct import_state { size_t sent, done, ok, already, failed; } import_state;

static void on_imported(void *ud, store_status s)
{
    import_state *im = ud;
    im->done++;
    im->ok += s == STORE_OK;
    im->already += s == STORE_ALREADY;
    im->failed += s != STORE_OK && s != STORE_ALREADY;
}

static int import_one(void *ud, const rd_record *r, char *err, size_t errlen)
{
    import_state *im = ud;
    store_vote_record rec = { .question_id = r->question_id, .model_a = r->model_a, .model_b = r->model_b,
                              .winner = rd_winner_name(r->winner), .judge = r->judge, .turn = r->turn,
                              .anony = r->anony == 1, .language = r->language, .tstamp = r->tstamp };
    if (store_import_vote(st, &rec, on_imported, im) < 0) {
        snprintf(err, errlen, "import refused record %zu", r->index);
        return -1;
    }
    im->sent++;
    /* Let the loop drain the pipeline now and then. */
    if (im->sent % 500 == 0)
        while (im->done + 100 < im->sent) event_base_loop(base, EVLOOP_ONCE);
    return 0;
}

static int import_file(const char *path, import_state *im)
{
    char err[256];
    if (rd_read(path, NULL, import_one, im, NULL, err, sizeof err) < 0) {
        printf("# %s\n", err);
        return -1;
    }
    for (int t = 0; t < 500 && im->done < im->sent; t++) rp_run_for(base, 20);
    return im->done == im->sent ? 0 : -1;
}

/* ---- live battles ---- */

static const char *const live[] = { "Qwen2.5-72B-Instruct", "Gemma-2-27B-it", "Llama-3-70B-Instruct",
                                    "Llama-3.1-Nemotron-70B-Instruct", "Command R+ (08-2024)" };
static const char *const winners[] = { "model_a", "model_b", "tie", "tie (bothbad)" };

static int live_votes(int n)
{
    int recorded = 0;
    unsigned x = 12345;
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        int a = (int)((x >> 8) % 5), b = (int)((x >> 16) % 4);
        if (b >= a) b++;
        char id[32];
        snprintf(id, sizeof id, "live-%d", i);
        store_battle bt = { .model_a = live[a], .model_b = live[b], .anony = i % 5 != 0, .tstamp = NAN, .turn = 1,
                            .status_a = STORE_SIDE_DONE, .status_b = STORE_SIDE_DONE,
                            .conv_a = "[{\"role\":\"user\",\"content\":\"say \\\"hi\\\"\"},"
                                      "{\"role\":\"assistant\",\"content\":\"hi\\n\"}]",
                            .voter = "192.0.2.1" };
        sf_slot s1 = { 0 }, s2 = { 0 };
        store_battle_save(st, id, &bt, 600, sf_on_status, &s1);
        /* the stronger model (lower index) wins 70% of the time */
        int w = (x >> 24) % 10 < 2 ? 2 + (int)((x >> 4) % 2) : ((x >> 24) % 10 < 8) == (a < b) ? 0 : 1;
        store_vote_req q = { .battle_id = id, .winner = winners[w], .judge = "arena_user_live",
                             .language = "English", .tstamp = NAN, .leak = i % 11 == 0 };
        store_vote(st, &q, sf_on_vote, &s2);
        rp_run_until(base, &s2.done, 3000);
        recorded += s1.st == STORE_OK && s2.st == STORE_OK;
        if (s1.st != STORE_OK || s2.st != STORE_OK)
            printf("# %s: save %s, vote %s\n", id, store_status_name(s1.st), store_status_name(s2.st));
    }
    return recorded;
}

/* ---- the follower feeds the board ---- */

static size_t fed;

static void on_records(void *ud, store_status s, const store_vote_record *recs, size_t n)
{
    for (size_t i = 0; s == STORE_OK && i < n; i++) {
        board_add_vote(bd, &recs[i]);
        fed++;
    }
}

/* ---- export through store_scan_votes ---- */

typedef struct exporter {
    export_writer *w;
    FILE *out;
    volatile int done;
    int failed;
    char after[64];
} exporter;

static int file_sink(void *ud, const char *data, size_t len)
{
    return fwrite(data, 1, len, ud) == len ? 0 : -1;
}

static void on_page(void *ud, store_status s, const store_vote_record *recs, size_t n);

static void next_page(exporter *ex)
{
    if (store_scan_votes(st, ex->after, 500, on_page, ex) < 0) {
        ex->failed = 1;
        ex->done = 1;
    }
}

static void on_page(void *ud, store_status s, const store_vote_record *recs, size_t n)
{
    exporter *ex = ud;
    if (s != STORE_OK) {
        ex->failed = 1;
        ex->done = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (export_record(ex->w, &recs[i]) < 0) ex->failed = 1;
    if (n == 500) {
        snprintf(ex->after, sizeof ex->after, "%s", recs[n - 1].id);
        next_page(ex);
        return;
    }
    if (export_end(ex->w) < 0) ex->failed = 1;
    ex->done = 1;
}

static int export_to(const char *path, export_format fmt, int anony_only, size_t *count)
{
    exporter ex = { 0 };
    char err[128];
    ex.out = fopen(path, "w");
    export_filter f = { anony_only, NAN };
    ex.w = ex.out ? export_new(fmt, &f, file_sink, ex.out, err, sizeof err) : NULL;
    if (!ex.w || export_begin(ex.w) < 0) return -1;
    next_page(&ex);
    rp_run_until(base, &ex.done, 10000);
    *count = export_count(ex.w);
    export_free(ex.w);
    fclose(ex.out);
    return ex.done && !ex.failed ? 0 : -1;
}

/* ---- arena-ratings ---- */

static char *run_capture(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    int rc = pclose(p);
    if (!buf) return NULL;
    buf[len] = '\0';
    if (rc != 0) {
        printf("# `%s` exited with %d\n", cmd, rc);
        free(buf);
        return NULL;
    }
    return buf;
}

static int same_as_board(const char *file, const char *flags, board_method m, int anony)
{
    const char *bin = getenv("ARENA_BIN") ? getenv("ARENA_BIN") : "bin";
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "'%s/arena-ratings' fit '%s' --format csv --static data/open_llm_leaderboard_v2.csv "
             "--map data/model_name_map.csv --seed 42 --threads 1 %s 2>/dev/null",
             bin, file, flags);
    char *out = run_capture(cmd);
    board_blob *bl = board_leaderboard_csv(bd, m, anony);
    int same = out && bl && !strcmp(out, bl->data);
    if (!same && out && bl) {
        printf("# arena-ratings:\n");
        for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) printf("#   %s\n", l);
        printf("# board:\n# %.*s\n", (int)(bl->len > 2000 ? 2000 : bl->len), bl->data);
    }
    free(out);
    board_blob_release(bl);
    return same;
}

/* ---- the writer alone: filters, quoting, conversations ---- */

typedef struct membuf { char data[8192]; size_t len; int fail_after; } membuf;

static int mem_sink(void *ud, const char *data, size_t len)
{
    membuf *m = ud;
    if (m->fail_after && m->len >= (size_t)m->fail_after) return -1;
    if (m->len + len >= sizeof m->data) return -1;
    memcpy(m->data + m->len, data, len);
    m->len += len;
    m->data[m->len] = '\0';
    return 0;
}

static void writer_unit(void)
{
    char err[128];
    store_vote_record recs[] = {
        { .question_id = "q1", .model_a = "a,b", .model_b = "say \"x\"", .winner = "tie (bothbad)",
          .judge = "j", .turn = 2, .anony = 1, .language = "English", .tstamp = 100.25,
          .conversation_a = "[{\"role\":\"user\",\"content\":\"hi\"}]", .conversation_b = "not json\n" },
        { .question_id = "q2", .model_a = "m1", .model_b = "m2", .winner = "model_a", .anony = 1, .leak = 1,
          .tstamp = 200 },
        { .question_id = "q3", .model_a = "m1", .model_b = "m2", .winner = "model_b", .anony = 0, .tstamp = 300 },
        { .question_id = "q4", .model_a = "m1", .model_b = "m2", .winner = "tie", .anony = 1, .tstamp = 50 },
    };
    membuf m = { .len = 0 };
    export_writer *w = export_new(EXPORT_JSON, NULL, mem_sink, &m, err, sizeof err);
    export_begin(w);
    for (size_t i = 0; i < 4; i++) export_record(w, &recs[i]);
    export_end(w);
    json_error_t e;
    json_t *arr = json_loads(m.data, 0, &e), *r0 = json_array_get(arr, 0), *r1 = json_array_get(arr, 1);
    CHECK(json_array_size(arr) == 4 && !strcmp(json_string_value(json_object_get(r0, "model_b")), "say \"x\"") &&
          json_is_array(json_object_get(r0, "conversation_a")) &&
          !strcmp(json_string_value(json_object_get(r0, "conversation_b")), "not json\n") &&
          json_real_value(json_object_get(r0, "tstamp")) == 100.25 &&
          json_is_false(json_object_get(r1, "anony")) && json_is_true(json_object_get(r1, "leak")),
          "JSON writer: escaping, conversations, leaked battles exported as not anonymous");
    json_decref(arr);
    export_free(w);

    membuf c = { .len = 0 };
    export_filter f = { .anony_only = 1, .since = 60 };
    w = export_new(EXPORT_CSV, &f, mem_sink, &c, err, sizeof err);
    export_begin(w);
    for (size_t i = 0; i < 4; i++) export_record(w, &recs[i]);
    export_end(w);
    CHECK(export_count(w) == 1 && !strcmp(c.data, "model_a,model_b,winner,tstamp,anony,turn,language,judge,question_id\n"
                                                  "\"a,b\",\"say \"\"x\"\"\",tie (bothbad),100.250000,1,2,English,j,q1\n"),
          "CSV writer: anony=1 and since filters, RFC 4180 quoting");
    export_free(w);

    membuf z = { .len = 0 };
    w = export_new(EXPORT_JSON, NULL, mem_sink, &z, err, sizeof err);
    export_begin(w);
    export_end(w);
    CHECK(!strcmp(z.data, "[]\n"), "empty JSON export is []");
    export_free(w);

    membuf bad = { .fail_after = 1 };
    w = export_new(EXPORT_JSON, NULL, mem_sink, &bad, err, sizeof err);
    export_begin(w);
    int r1st = export_record(w, &recs[0]), r2nd = export_record(w, &recs[3]);
    CHECK(r1st == -1 && r2nd == -1 && export_end(w) == -1, "a failing sink fails the writer for good");
    export_free(w);
}

int main(void)
{
    writer_unit();
    redis_proc rp = { 0 };
    if (!(base = sf_start(&rp)))
        return 1;
    char err[256], url[64], dir[160];
    snprintf(dir, sizeof dir, "%s", rp.dir);
    store_config sc;
    sf_config(&sc, &rp, url, sizeof url);
    st = store_new(base, &sc, err, sizeof err);
    CHECK(sf_wait_ready(base, st, 3000), "store ready");

    st_table *table = st_load("data/open_llm_leaderboard_v2.csv", "model", "average", err, sizeof err);
    if (table) st_load_map(table, "data/model_name_map.csv", err, sizeof err);
    board_opts bo;
    board_opts_default(&bo);
    bo.static_table = table;
    bo.bootstrap_rounds = 40;
    bo.debounce_ms = 10;
    bd = board_new(&bo, err, sizeof err);
    CHECK(bd != NULL, "board_new");
    CHECK(store_follow_votes(st, "0", on_records, NULL) == 0, "board follows the vote stream");

    import_state im = { 0 };
    int rc = import_file("data/genai_arena_clean_battle.json", &im);
    CHECK(rc == 0 && im.ok == im.sent && im.sent > 2000,
          "FastChat clean-battle file imported (%zu records)", im.ok);
    import_state again = { 0 };
    rc = import_file("data/genai_arena_clean_battle.json", &again);
    CHECK(rc == 0 && again.already == again.sent &&
          again.ok == 0, "importing it again adds nothing (%zu already there)", again.already);
    int n_live = live_votes(120);
    CHECK(n_live == 120, "120 live battles voted (anonymous, named, leaks): %d", n_live);
    size_t total = im.ok + (size_t)n_live;
    for (int t = 0; t < 500 && fed < total; t++) rp_run_for(base, 20);
    CHECK(fed == total, "the follower fed every vote to the board (%zu of %zu)", fed, total);
    board_sync(bd);

    char json_all[200], json_anony[200], csv_all[200];
    snprintf(json_all, sizeof json_all, "%s/battles.json", dir);
    snprintf(json_anony, sizeof json_anony, "%s/battles-anony.json", dir);
    snprintf(csv_all, sizeof csv_all, "%s/battles.csv", dir);
    size_t n_all = 0, n_anony = 0, n_csv = 0;
    rc = export_to(json_all, EXPORT_JSON, 0, &n_all);
    CHECK(rc == 0 && n_all == total, "JSON export of every vote (%zu)", n_all);
    rc = export_to(json_anony, EXPORT_JSON, 1, &n_anony);
    CHECK(rc == 0 && n_anony < n_all, "JSON export, anony=1 (%zu)", n_anony);
    rc = export_to(csv_all, EXPORT_CSV, 0, &n_csv);
    CHECK(rc == 0 && n_csv == total, "CSV export (%zu)", n_csv);

    /* the export is valid JSON with FastChat's fields */
    json_error_t e;
    json_t *arr = json_load_file(json_all, 0, &e);
    json_t *last = json_array_get(arr, json_array_size(arr) - 1);
    CHECK(json_is_array(arr) && json_array_size(arr) == total && json_is_string(json_object_get(last, "question_id")) &&
          json_is_array(json_object_get(last, "conversation_a")) && json_is_boolean(json_object_get(last, "anony")) &&
          json_is_integer(json_object_get(last, "turn")) && json_is_real(json_object_get(last, "tstamp")) &&
          json_is_string(json_object_get(last, "judge")) && json_is_string(json_object_get(last, "language")),
          "export parses as a clean-battle array with every field");
    json_decref(arr);

    CHECK(same_as_board(json_all, "--ci sandwich", BOARD_BT, 0), "arena-ratings fit (bt, sandwich) on the JSON "
          "export prints the board's CSV");
    CHECK(same_as_board(json_all, "--ci sandwich --anony-only", BOARD_BT, 1), "... --anony-only: the anonymous "
          "board");
    CHECK(same_as_board(json_anony, "--ci sandwich", BOARD_BT, 1), "... on the anony=1 export: the anonymous board");
    CHECK(same_as_board(csv_all, "--ci sandwich", BOARD_BT, 0), "... on the CSV export: the same board");
    CHECK(same_as_board(json_all, "--method elo --ci bootstrap --bootstrap 40", BOARD_ELO, 0),
          "arena-ratings fit (elo, bootstrap) on the JSON export prints the board's Elo CSV");
    CHECK(same_as_board(csv_all, "--method elo --ci bootstrap --bootstrap 40 --anony-only", BOARD_ELO, 1),
          "... anonymous Elo from the CSV export");

    board_free(bd);
    store_free(st);
    st_free(table);
    event_base_free(base);
    rp_destroy(&rp);
    return check_exit();
}
