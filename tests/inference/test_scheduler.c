/* test_scheduler: continuous batching (scheduler.h) on the real engine and stories260K:
 * golden greedy text one piece per token, batched results equal to solo results while
 * requests join mid-flight, cancellation, queue limits and stop strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../check.h"
#include "engine.h"
#include "model.h"
#include "scheduler.h"
#include "tokenizer.h"

#define MAX_REQ 16

struct result {
    char text[8192];
    size_t len;
    int pieces, empty_pieces;
    enum sched_status status;  /* SCHED_RUNNING until the final event */
};

static void on_event(void *arg, struct sched_req *r, void *user, const char *text, size_t len,
                     enum sched_status status)
{
    struct result *res = user;
    if (status != SCHED_RUNNING) {
        res->status = status;
        return;
    }
    res->pieces++;
    res->empty_pieces += len == 0;
    if (res->len + len < sizeof res->text) {
        memcpy(res->text + res->len, text, len);
        res->len += len;
        res->text[res->len] = '\0';
    }
}

static void notify(void *arg) { (void)arg; }   /* the test polls */

/* Drains until every result in res[0..n) has its final event (10 s at most). */
static int wait_all(struct sched *s, struct result *res, int n, int *peak_active)
{
    struct timespec nap = {0, 1000000};
    for (int tries = 0; tries < 10000; tries++) {
        sched_drain(s, on_event, NULL);
        if (peak_active) {
            struct sched_stats st;
            sched_get_stats(s, &st);
            if (st.active > *peak_active)
                *peak_active = st.active;
        }
        int done = 0;
        for (int i = 0; i < n; i++)
            done += res[i].status != SCHED_RUNNING;
        if (done == n)
            return 0;
        nanosleep(&nap, NULL);
    }
    return -1;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    static char buf[8192];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

int main(void)
{
    char err[256];
    const char *root = getenv("ARENA_ROOT") ? getenv("ARENA_ROOT") : ".";
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K.bin", root);
    inf_model *model = inf_model_open(path, err, sizeof err);
    snprintf(path, sizeof path, "%s/models/tok512.bin", root);
    tok_tokenizer *tok = model ? tok_open(path, inf_model_config(model)->vocab_size, err, sizeof err) : NULL;
    inf_engine_opts eo = {.max_batch = 4, .threads = 1};
    inf_engine *engine = tok ? inf_engine_new(model, &eo, err, sizeof err) : NULL;
    struct sched *s = engine ? sched_new(engine, tok, 2, notify, NULL, err, sizeof err) : NULL;
    CHECK(s != NULL, "scheduler starts (%s)", s ? "ok" : err);
    if (!s)
        return check_exit();
    snprintf(path, sizeof path, "%s/models/golden/stories260K.txt", root);
    char *golden = read_file(path);
    const char *prompt = "Once upon a time";
    size_t plen = strlen(prompt), glen = strlen(golden);
    CHECK(glen > plen + 1 && !strncmp(golden, prompt, plen), "golden file read");
    golden[glen - 1] = '\0';   /* run.c's final newline */
    golden += plen;

    static struct result res[MAX_REQ];
    struct sched_req *req[MAX_REQ];
    inf_gen_params greedy = {.temperature = 0, .max_new_tokens = 252, .stop_at_eos = 1};

    /* One request: the golden continuation, one piece per token. */
    req[0] = sched_req_new(s, prompt, &greedy, &res[0], err, sizeof err);
    CHECK(req[0] && sched_req_prompt_tokens(req[0]) == 5, "request encodes the prompt (5 tokens)");
    CHECK(sched_submit(s, req[0]) == 0, "submit");
    CHECK(wait_all(s, res, 1, NULL) == 0, "single request finishes");
    CHECK(!strcmp(res[0].text, golden), "single request: golden greedy text");
    CHECK(res[0].status == SCHED_LENGTH && sched_req_completion_tokens(req[0]) == 252,
          "finishes by length after 252 tokens");
    CHECK(res[0].pieces == 252 && res[0].empty_pieces == 0, "one piece per token (%d)", res[0].pieces);
    sched_req_free(req[0]);

    /* Six requests, different prompts and lengths, alone then together: the batch has 4
     * slots and the queue 2, so requests join as others finish, prompts read next to
     * other requests' decoding. Each batched text equals its solo text. */
    const char *prompts[6] = {"Once upon a time", "Lily and Tom went to the park to play with a ball",
                              "The cat", "One day, a big dog", "Once upon a time", "Sam had a red hat"};
    const int lengths[6] = {40, 90, 7, 150, 252, 60};
    static struct result solo[6];
    for (int i = 0; i < 6; i++) {
        inf_gen_params p = greedy;
        p.max_new_tokens = lengths[i];
        req[i] = sched_req_new(s, prompts[i], &p, &solo[i], err, sizeof err);
        sched_submit(s, req[i]);
        wait_all(s, &solo[i], 1, NULL);
        sched_req_free(req[i]);
    }
    memset(res, 0, sizeof res);
    int accepted = 0, peak = 0;
    for (int i = 0; i < 6; i++) {
        inf_gen_params p = greedy;
        p.max_new_tokens = lengths[i];
        req[i] = sched_req_new(s, prompts[i], &p, &res[i], err, sizeof err);
        accepted += sched_submit(s, req[i]) == 0;
    }
    CHECK(accepted == 6, "4 slots + queue 2 accept 6 requests");
    CHECK(wait_all(s, res, 6, &peak) == 0, "batched requests finish");
    int same = 0;
    for (int i = 0; i < 6; i++) {
        same += !strcmp(res[i].text, solo[i].text) && res[i].status == solo[i].status;
        sched_req_free(req[i]);
    }
    CHECK(same == 6, "batched text equals solo text for all 6");
    CHECK(peak >= 2 && peak <= 4, "several requests stepped together (peak %d of 4)", peak);

    /* Full: 4 slots + 2 queued; the 7th is refused and stays the caller's. */
    memset(res, 0, sizeof res);
    inf_gen_params longest = {.temperature = 0.8f, .seed = 7};
    for (int i = 0; i < 7; i++)
        req[i] = sched_req_new(s, prompt, &longest, &res[i], err, sizeof err);
    accepted = 0;
    for (int i = 0; i < 7; i++)
        accepted += sched_submit(s, req[i]) == 0;
    CHECK(accepted == 6, "the 7th request is refused when slots and queue are full");
    sched_req_free(req[6]);
    /* Cancel them all: active and queued ones end with SCHED_CANCELLED, slots free. */
    for (int i = 0; i < 6; i++)
        sched_cancel(s, req[i]);
    CHECK(wait_all(s, res, 6, NULL) == 0, "cancelled requests end");
    int cancelled = 0;
    for (int i = 0; i < 6; i++) {
        cancelled += res[i].status == SCHED_CANCELLED;
        sched_req_free(req[i]);
    }
    CHECK(cancelled == 6, "all six report SCHED_CANCELLED");
    struct sched_stats st;
    sched_get_stats(s, &st);
    CHECK(st.active == 0 && st.queued == 0, "no slot or queue entry left after cancelling");
    CHECK(st.tokens_total > 0 && st.ttft_count > 0, "statistics count tokens and TTFT");

    /* Stop string. */
    memset(res, 0, sizeof res);
    const char *stop[] = {"Lily"};
    inf_gen_params ps = greedy;
    ps.stop = stop;
    ps.n_stop = 1;
    req[0] = sched_req_new(s, prompt, &ps, &res[0], err, sizeof err);
    sched_submit(s, req[0]);
    CHECK(wait_all(s, res, 1, NULL) == 0 && res[0].status == SCHED_STOP &&
          !strcmp(res[0].text, ", there was a little girl named "), "stop string ends with SCHED_STOP");
    sched_req_free(req[0]);

    /* Freeing the scheduler with requests in flight: they are simply the caller's again. */
    memset(res, 0, sizeof res);
    for (int i = 0; i < 3; i++) {
        req[i] = sched_req_new(s, prompt, &longest, &res[i], err, sizeof err);
        sched_submit(s, req[i]);
    }
    sched_free(s);
    for (int i = 0; i < 3; i++)
        sched_req_free(req[i]);
    CHECK(1, "sched_free with requests in flight");

    inf_engine_free(engine);
    tok_close(tok);
    inf_model_close(model);
    return check_exit();
}
