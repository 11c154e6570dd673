/* battle.c: model picking, the battle state machine, the identity-word check. */
#include "battle.h"
#include "sse.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- picking ---- */

uint64_t battle_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rand_unit(uint64_t *rng) { return (double)(battle_rand(rng) >> 11) * 0x1.0p-53; }

/* Index drawn by weight among eligible models other than skip1/skip2; -1 if none. */
static int draw(const double *w, const int *eligible, size_t n, int skip1, int skip2, uint64_t *rng)
{
    double total = 0;
    int last = -1;
    for (size_t i = 0; i < n; i++)
        if (eligible[i] && w[i] > 0 && (int)i != skip1 && (int)i != skip2) total += w[i];
    if (total <= 0) return -1;
    double r = rand_unit(rng) * total;
    for (size_t i = 0; i < n; i++) {
        if (!eligible[i] || w[i] <= 0 || (int)i == skip1 || (int)i == skip2) continue;
        last = (int)i;
        if (r < w[i]) return (int)i;
        r -= w[i];
    }
    return last;  /* rounding left r just above the last weight */
}

int battle_pick(const double *weights, const int *eligible, size_t n, int avoid_a, int avoid_b,
                uint64_t *rng, int *a, int *b)
{
    int first = draw(weights, eligible, n, -1, -1, rng);
    if (first < 0) return -1;
    /* Avoiding the previous pair: when the first pick is in it, its old partner is left out
     * of the second draw unless nobody else is left. */
    int partner = first == avoid_a ? avoid_b : first == avoid_b ? avoid_a : -1;
    int second = partner >= 0 ? draw(weights, eligible, n, first, partner, rng) : -1;
    if (second < 0) second = draw(weights, eligible, n, first, -1, rng);
    if (second < 0) return -1;
    if (battle_rand(rng) & 1) { *a = second; *b = first; }
    else { *a = first; *b = second; }
    return 0;
}

/* ---- state machine ---- */

/* Appends a copy of len bytes of text as the side's next message. */
static int push_message(battle_side *side, const char *text, size_t len)
{
    if (side->n_msgs == side->cap_msgs) {
        size_t cap = side->cap_msgs ? side->cap_msgs * 2 : 4;
        char **p = realloc(side->msgs, cap * sizeof *p);
        if (!p) return -1;
        side->msgs = p;
        side->cap_msgs = cap;
    }
    char *m = malloc(len + 1);
    if (!m) return -1;
    memcpy(m, text, len);
    m[len] = '\0';
    side->msgs[side->n_msgs++] = m;
    return 0;
}

static void pop_message(battle_side *side) { free(side->msgs[--side->n_msgs]); }

/* The conversation of a side ends with the model's message when its last turn succeeded. */
static int ends_with_answer(const battle_side *side) { return side->n_msgs % 2 == 0 && side->n_msgs > 0; }

battle *battle_new(const char *id, const char *model_a, const char *model_b, int anony,
                   const char *prompt, double tstamp)
{
    battle *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    snprintf(b->id, sizeof b->id, "%s", id);
    b->anony = anony;
    b->tstamp = tstamp;
    b->turns = 1;
    b->phase = BATTLE_WAITING;
    const char *models[2] = {model_a, model_b};
    for (int s = 0; s < 2; s++) {
        battle_side *side = &b->side[s];
        if (!(side->model = strdup(models[s])) || push_message(side, prompt, strlen(prompt)) < 0)
            goto err;
    }
    return b;
err:
    battle_free(b);
    return NULL;
}

void battle_free(battle *b)
{
    if (!b) return;
    for (int s = 0; s < 2; s++) {
        free(b->side[s].model);
        free(b->side[s].answer);
        while (b->side[s].n_msgs) pop_message(&b->side[s]);
        free(b->side[s].msgs);
    }
    free(b);
}

battle_status battle_start(battle *b)
{
    if (b->phase == BATTLE_VOTED) return BATTLE_E_VOTED;
    if (b->phase != BATTLE_WAITING) return BATTLE_E_BUSY;
    for (int s = 0; s < 2; s++) {
        b->side[s].state = SIDE_STREAMING;
        b->side[s].len = 0;
        if (b->side[s].answer) b->side[s].answer[0] = '\0';
    }
    b->phase = BATTLE_STREAMING;
    return BATTLE_OK;
}

battle_status battle_append(battle *b, int s, const char *text, size_t len)
{
    battle_side *side = &b->side[s];
    if (b->phase != BATTLE_STREAMING || side->state != SIDE_STREAMING) return BATTLE_E_BUSY;
    if (side->len + len + 1 > side->cap) {
        size_t cap = side->cap ? side->cap : 256;
        while (cap < side->len + len + 1) cap *= 2;
        char *p = realloc(side->answer, cap);
        if (!p) return BATTLE_E_NOMEM;
        side->answer = p;
        side->cap = cap;
    }
    memcpy(side->answer + side->len, text, len);
    side->len += len;
    side->answer[side->len] = '\0';
    return BATTLE_OK;
}

battle_status battle_finish(battle *b, int s, int ok, const battle_identity *ident)
{
    battle_side *side = &b->side[s];
    if (b->phase != BATTLE_STREAMING || side->state != SIDE_STREAMING) return BATTLE_E_BUSY;
    side->state = ok ? SIDE_DONE : SIDE_ERROR;
    if (ok) {
        const char *text = side->answer ? side->answer : "";
        if (push_message(side, text, side->len) < 0) return BATTLE_E_NOMEM;
        if (ident && battle_identity_leaks(ident, text, side->len)) side->leak = 1;
    }
    if (b->side[!s].state != SIDE_STREAMING) b->phase = BATTLE_ANSWERED;
    return BATTLE_OK;
}

battle_status battle_follow_up(battle *b, const char *prompt, int max_turns)
{
    if (b->phase == BATTLE_VOTED) return BATTLE_E_VOTED;
    if (b->phase != BATTLE_ANSWERED) return BATTLE_E_BUSY;
    if (b->side[0].state != SIDE_DONE || b->side[1].state != SIDE_DONE) return BATTLE_E_FAILED;
    if (b->turns >= max_turns) return BATTLE_E_TURNS;
    for (int s = 0; s < 2; s++)
        if (push_message(&b->side[s], prompt, strlen(prompt)) < 0) return BATTLE_E_NOMEM;
    /* Both answers of the new turn are pending: a copy saved now and restored by another
     * server (or after a restart) must ask for them, not show the last turn as done. */
    for (int s = 0; s < 2; s++) b->side[s].state = SIDE_PENDING;
    b->turns++;
    b->phase = BATTLE_WAITING;
    return BATTLE_OK;
}

battle_status battle_regenerate(battle *b)
{
    if (b->phase == BATTLE_VOTED) return BATTLE_E_VOTED;
    if (b->phase != BATTLE_ANSWERED) return BATTLE_E_BUSY;
    for (int s = 0; s < 2; s++) {
        battle_side *side = &b->side[s];
        if (ends_with_answer(side)) pop_message(side);
        side->state = SIDE_PENDING;
    }
    b->phase = BATTLE_WAITING;
    return BATTLE_OK;
}

battle_status battle_can_vote(const battle *b)
{
    if (b->phase == BATTLE_VOTED) return BATTLE_E_VOTED;
    if (b->phase != BATTLE_ANSWERED) return BATTLE_E_BUSY;
    if (b->side[0].state != SIDE_DONE || b->side[1].state != SIDE_DONE) return BATTLE_E_FAILED;
    return BATTLE_OK;
}

battle_status battle_vote(battle *b)
{
    battle_status st = battle_can_vote(b);
    if (st == BATTLE_OK) b->phase = BATTLE_VOTED;
    return st;
}

int battle_leaked(const battle *b) { return b->side[0].leak || b->side[1].leak; }

char *battle_conv_json(const battle *b, int s)
{
    static const char user[] = "{\"role\":\"user\",\"content\":\"", model[] = "{\"role\":\"assistant\",\"content\":\"";
    const battle_side *side = &b->side[s];
    size_t need = 3, i;   /* [ ] NUL */
    for (i = 0; i < side->n_msgs; i++)
        need += sizeof model + 2 + sse_json_escape(NULL, 0, side->msgs[i], strlen(side->msgs[i]));
    char *out = malloc(need), *p = out;
    if (!out) return NULL;
    *p++ = '[';
    for (i = 0; i < side->n_msgs; i++) {
        if (i) *p++ = ',';
        const char *head = i % 2 ? model : user;
        size_t head_len = i % 2 ? sizeof model - 1 : sizeof user - 1;
        memcpy(p, head, head_len);
        p += head_len;
        p += sse_json_escape(p, need - (size_t)(p - out), side->msgs[i], strlen(side->msgs[i]));
        memcpy(p, "\"}", 2);
        p += 2;
    }
    memcpy(p, "]", 2);
    return out;
}

/* Loads side's conversation from JSON text: messages of the user and of the model,
 * alternating, the user's first. */
static int load_conversation(battle_side *side, const char *text)
{
    json_t *conv = text ? json_loads(text, 0, NULL) : NULL;
    int ok = json_is_array(conv);
    for (size_t i = 0; ok && i < json_array_size(conv); i++) {
        json_t *m = json_array_get(conv, i), *content = json_object_get(m, "content");
        const char *role = json_string_value(json_object_get(m, "role"));
        ok = role && strcmp(role, i % 2 ? "assistant" : "user") == 0 && json_is_string(content) &&
             push_message(side, json_string_value(content), json_string_length(content)) == 0;
    }
    json_decref(conv);
    return ok ? 0 : -1;
}

static const char *const phase_names[] = {"waiting", "streaming", "answered", "voted"};
static const char *const side_names[] = {"pending", "streaming", "done", "error"};

const char *battle_phase_name(battle_phase p) { return phase_names[p]; }
const char *battle_side_state_name(battle_side_state s) { return side_names[s]; }

battle *battle_restore(const char *id, const char *model_a, const char *model_b, int anony,
                       int turns, double tstamp, const char *conv_a, const char *conv_b,
                       battle_side_state state_a, battle_side_state state_b, int leak, int voted)
{
    battle *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    snprintf(b->id, sizeof b->id, "%s", id);
    b->anony = anony;
    b->turns = turns;
    b->tstamp = tstamp;
    const char *models[2] = {model_a, model_b};
    const char *conv[2] = {conv_a, conv_b};
    battle_side_state st[2] = {state_a, state_b};
    int ended = 1;
    for (int s = 0; s < 2; s++) {
        battle_side *side = &b->side[s];
        if (!(side->model = strdup(models[s])) || load_conversation(side, conv[s]) < 0) {
            battle_free(b);
            return NULL;
        }
        side->state = st[s];
        side->leak = leak;
        if (st[s] != SIDE_DONE && st[s] != SIDE_ERROR) ended = 0;
    }
    if (voted) b->phase = BATTLE_VOTED;
    else if (ended) b->phase = BATTLE_ANSWERED;
    else {
        for (int s = 0; s < 2; s++) {
            if (b->side[s].state == SIDE_DONE && ends_with_answer(&b->side[s])) pop_message(&b->side[s]);
            b->side[s].state = SIDE_PENDING;
        }
        b->phase = BATTLE_WAITING;
    }
    return b;
}

/* ---- identity leaks ---- */

/* FastChat's IDENTITY_WORDS (fastchat/serve/monitor/clean_battle_data.py), lower case. */
static const char *const fastchat_identity_words[] = {
    "vicuna", "lmsys", "koala", "uc berkeley", "open assistant", "laion", "chatglm", "chatgpt",
    "gpt-4", "openai", "anthropic", "claude", "bard", "palm", "lamda", "google", "llama",
    "qianwan", "alibaba", "mistral", "zhipu", "keg lab", "01.ai", "ai2", "t\xc3\xbclu",
    "network error due to high traffic. please regenerate or refresh this page.",
    "$moderation$ your input violates our content moderation guidelines.",
    "api request error. please increase the number of max tokens.",
    "**api request error** reason: the response was blocked.",
    "**api request error**",
};

struct battle_identity {
    size_t n;
    char **words;  /* lower case, non-empty */
};

static void lower_ascii(char *s)
{
    for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

battle_identity *battle_identity_new(const char *const *names, size_t n)
{
    size_t nf = sizeof fastchat_identity_words / sizeof *fastchat_identity_words;
    battle_identity *id = calloc(1, sizeof *id);
    if (!id || !(id->words = calloc(nf + n, sizeof *id->words))) goto err;
    for (size_t i = 0; i < nf + n; i++) {
        const char *w = i < nf ? fastchat_identity_words[i] : names[i - nf];
        if (!w || !*w) continue;
        if (!(id->words[id->n] = strdup(w))) goto err;
        lower_ascii(id->words[id->n++]);
    }
    return id;
err:
    battle_identity_free(id);
    return NULL;
}

void battle_identity_free(battle_identity *id)
{
    if (!id) return;
    for (size_t i = 0; i < id->n; i++) free(id->words[i]);
    free(id->words);
    free(id);
}

/* Case-insensitive (ASCII) substring search within len bytes. */
static int contains(const char *text, size_t len, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; i + wl <= len; i++) {
        size_t k = 0;
        while (k < wl && tolower((unsigned char)text[i + k]) == (unsigned char)word[k]) k++;
        if (k == wl) return 1;
    }
    return 0;
}

int battle_identity_leaks(const battle_identity *id, const char *text, size_t len)
{
    for (size_t i = 0; i < id->n; i++)
        if (contains(text, len, id->words[i])) return 1;
    return 0;
}
