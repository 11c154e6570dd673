/* battle.h: picking two models, the battle state machine and the identity-leak check.
 *
 * Picking (FastChat style): model A is drawn by weight among the eligible models (enabled,
 * healthy, weight > 0), model B by weight among the rest, then the sides are swapped with
 * probability 1/2. When the voter's previous pair is given and another pair exists, that
 * pair is not served again back to back.
 *
 * The state machine of one battle, per turn:
 *
 *   WAITING --battle_start--> STREAMING --battle_finish(a), battle_finish(b)--> ANSWERED
 *   ANSWERED --battle_follow_up (turn limit)--> WAITING
 *   ANSWERED --battle_regenerate--> WAITING        (the last answers are dropped)
 *   ANSWERED --battle_vote (both sides done)--> VOTED   (final: no more turns)
 *
 * Each side keeps its own conversation: OpenAI messages, the user's first and then
 * alternating with the model's, kept as their texts alone (a battle lives from its first
 * prompt to its vote, and a tree of JSON objects per message cost more to build and free
 * than the rest of the vote). battle_conv_json writes them out as the upstream request's
 * messages and FastChat's conversation_a / conversation_b.
 *
 * Ownership: a battle owns its strings; battle_free releases them. Not thread-safe (one
 * event loop). */
#ifndef ARENA_BATTLE_H
#define ARENA_BATTLE_H

#include <stddef.h>
#include <stdint.h>

/* ---- picking ---- */

/* A splitmix64 step: the random source of battle_pick (seed it once, e.g. from time). */
uint64_t battle_rand(uint64_t *state);

/* weights[i] <= 0 or !eligible[i] leave model i out. avoid_a/avoid_b: the voter's previous
 * pair (unordered), -1 for none. Writes two distinct indices. 0, or -1 when fewer than two
 * models are eligible. */
int battle_pick(const double *weights, const int *eligible, size_t n, int avoid_a, int avoid_b,
                uint64_t *rng, int *a, int *b);

/* ---- state machine ---- */

typedef enum { BATTLE_WAITING, BATTLE_STREAMING, BATTLE_ANSWERED, BATTLE_VOTED } battle_phase;
typedef enum { SIDE_PENDING, SIDE_STREAMING, SIDE_DONE, SIDE_ERROR } battle_side_state;

/* Why a transition was refused; the server maps each to its own HTTP status. */
typedef enum {
    BATTLE_OK = 0,
    BATTLE_E_BUSY,        /* not in the phase the call needs (e.g. still streaming) */
    BATTLE_E_VOTED,       /* already voted: the battle is closed */
    BATTLE_E_TURNS,       /* the turn limit is reached */
    BATTLE_E_FAILED,      /* a side ended in error: nothing to vote on */
    BATTLE_E_NOMEM,
} battle_status;

typedef struct battle_side {
    char             *model;     /* registry name */
    battle_side_state state;
    char            **msgs;      /* the conversation: msgs[i] is the user's when i is even, the model's when odd */
    size_t            n_msgs, cap_msgs;
    char             *answer;    /* the answer of the current turn, growing while it streams */
    size_t            len, cap;
    int               leak;      /* an answer named a model or maker (any turn) */
} battle_side;

typedef struct battle {
    char        id[40];
    int         anony;           /* 1 anonymous, 0 named mode */
    int         turns;           /* prompts accepted so far */
    double      tstamp;          /* creation time, unix seconds */
    battle_phase phase;
    battle_side side[2];
} battle;

/* A battle with its first prompt, WAITING. NULL on no memory. */
battle *battle_new(const char *id, const char *model_a, const char *model_b, int anony,
                   const char *prompt, double tstamp);
void battle_free(battle *b);

/* WAITING -> STREAMING; both sides start an empty answer. */
battle_status battle_start(battle *b);

/* Text arriving on side s (0 = a, 1 = b) while it streams. */
battle_status battle_append(battle *b, int s, const char *text, size_t len);

/* Side s ended: ok = 1 done (its answer joins its conversation and, when ident is not
 * NULL, is checked for identity leaks), 0 error. When both sides have ended the battle is
 * ANSWERED. */
typedef struct battle_identity battle_identity;
battle_status battle_finish(battle *b, int s, int ok, const battle_identity *ident);

/* ANSWERED -> WAITING with a new prompt for both sides; at most max_turns prompts. */
battle_status battle_follow_up(battle *b, const char *prompt, int max_turns);

/* ANSWERED -> WAITING: the answers of the last turn are dropped, the prompt asked again. */
battle_status battle_regenerate(battle *b);

/* May the battle be voted on now? BATTLE_OK when ANSWERED and both sides done. */
battle_status battle_can_vote(const battle *b);

/* ANSWERED -> VOTED (after the store acknowledged the vote). */
battle_status battle_vote(battle *b);

/* Side s's conversation as compact JSON, [{"role":"user","content":"..."}, ...]; the
 * caller frees it. NULL on no memory. */
char *battle_conv_json(const battle *b, int s);

/* Either side leaked an identity. */
int battle_leaked(const battle *b);

const char *battle_phase_name(battle_phase p);
const char *battle_side_state_name(battle_side_state s);

/* A battle rebuilt from its saved fields (by a server that did not run it, or after a
 * restart). A side saved as ended keeps its state; a side not ended lost its stream with
 * the server that ran it, so the turn in flight is asked again: both sides go back to
 * PENDING (an answer already kept by one side is dropped) and the battle WAITS to be
 * streamed here. conv_a / conv_b: the conversations as battle_conv_json writes them. NULL
 * on no memory or a conversation that is not such JSON (messages of the user and of the
 * model alternating, the user's first). */
battle *battle_restore(const char *id, const char *model_a, const char *model_b, int anony,
                       int turns, double tstamp, const char *conv_a, const char *conv_b,
                       battle_side_state state_a, battle_side_state state_b, int leak, int voted);

/* ---- identity leaks ---- */

/* FastChat's identity words plus the given names (model names, organizations), matched
 * case-insensitively as substrings. Owns copies of everything. */
battle_identity *battle_identity_new(const char *const *names, size_t n);
void battle_identity_free(battle_identity *id);

/* 1 when text contains an identity word, else 0. */
int battle_identity_leaks(const battle_identity *id, const char *text, size_t len);

#endif
