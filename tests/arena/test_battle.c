/* Picking, the battle state machine, JSON round trip, identity leaks. */
#include "battle.h"
#include "../check.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void test_pick(void)
{
    double w[4] = {1, 2, 0, 1};
    int ok[4] = {1, 1, 1, 1}, count[4] = {0}, a, b, same_pair = 0, bad = 0, n = 20000;
    uint64_t rng = 42;
    for (int i = 0; i < n; i++) {
        if (battle_pick(w, ok, 4, -1, -1, &rng, &a, &b) < 0 || a == b) bad++;
        count[a]++;
        count[b]++;
    }
    CHECK(bad == 0, "two distinct models every time");
    CHECK(count[2] == 0, "weight 0 is never drawn");
    /* P(model 1 in a pair) = 2/4 + 1/4*2/3 + 1/4*2/3 = 5/6 */
    CHECK_NEAR(count[1] / (double)n, 5.0 / 6, 0.02, "weights drive the draw");
    int a_first = 0;
    for (int i = 0; i < n; i++) {
        battle_pick(w, ok, 4, 0, 1, &rng, &a, &b);
        if ((a == 0 && b == 1) || (a == 1 && b == 0)) same_pair++;
        a_first += a == 1;
    }
    CHECK(same_pair == 0, "the previous pair is not served again");
    CHECK(a_first > n / 4 && a_first < 3 * n / 4, "sides are swapped at random (%d)", a_first);
    int only_two[4] = {1, 1, 0, 0};
    CHECK(battle_pick(w, only_two, 4, 0, 1, &rng, &a, &b) == 0 && a + b == 1, "the only pair is served anyway");
    int one[4] = {0, 1, 0, 0};
    CHECK(battle_pick(w, one, 4, -1, -1, &rng, &a, &b) < 0, "one eligible model is not enough");
}

static void test_machine(void)
{
    battle_identity *ident = battle_identity_new((const char *const[]){"stories260K", "Karpathy"}, 2);
    battle *b = battle_new("id1", "ma", "mb", 1, "hello", 1.5);
    CHECK(b && b->phase == BATTLE_WAITING && b->turns == 1, "new battle waits");
    CHECK(battle_can_vote(b) == BATTLE_E_BUSY, "no vote before the answers");
    CHECK(battle_follow_up(b, "x", 3) == BATTLE_E_BUSY, "no follow-up before the answers");
    CHECK(battle_start(b) == BATTLE_OK && b->phase == BATTLE_STREAMING, "start");
    CHECK(battle_start(b) == BATTLE_E_BUSY, "no second start");
    battle_append(b, 0, "Once ", 5);
    battle_append(b, 0, "upon", 4);
    battle_append(b, 1, "I am STORIES260k", 16);
    CHECK(strcmp(b->side[0].answer, "Once upon") == 0, "answer grows");
    CHECK(battle_finish(b, 0, 1, ident) == BATTLE_OK && b->phase == BATTLE_STREAMING, "one side done");
    CHECK(battle_can_vote(b) == BATTLE_E_BUSY, "no vote while a side streams");
    CHECK(battle_finish(b, 1, 1, ident) == BATTLE_OK && b->phase == BATTLE_ANSWERED, "both done");
    CHECK(!b->side[0].leak && b->side[1].leak && battle_leaked(b), "identity leak flagged on the side that named itself");
    CHECK(b->side[0].n_msgs == 2, "answer joins the conversation");
    CHECK(battle_regenerate(b) == BATTLE_OK && b->side[0].n_msgs == 1 && b->phase == BATTLE_WAITING, "regenerate drops the answers");
    battle_start(b);
    battle_append(b, 0, "A", 1);
    battle_append(b, 1, "B", 1);
    battle_finish(b, 1, 1, ident);
    battle_finish(b, 0, 1, ident);
    CHECK(battle_follow_up(b, "more", 2) == BATTLE_OK && b->turns == 2 && b->side[1].n_msgs == 3, "follow-up");
    CHECK(b->phase == BATTLE_WAITING && b->side[0].state == SIDE_PENDING && b->side[1].state == SIDE_PENDING,
          "a follow-up leaves both answers pending");
    /* As another server restores it from Redis, where a pending side is saved as streaming. */
    char *conv_a = battle_conv_json(b, 0), *conv_b = battle_conv_json(b, 1);
    CHECK(conv_a && strcmp(conv_a, "[{\"role\":\"user\",\"content\":\"hello\"},{\"role\":\"assistant\",\"content\":\"A\"},"
                                   "{\"role\":\"user\",\"content\":\"more\"}]") == 0, "the conversation as OpenAI messages (%s)", conv_a);
    battle *f = battle_restore("id0", "ma", "mb", 1, 2, 0, conv_a, conv_b, SIDE_STREAMING, SIDE_STREAMING, 0, 0);
    CHECK(f && f->phase == BATTLE_WAITING && f->side[0].n_msgs == 3 && battle_start(f) == BATTLE_OK,
          "a follow-up restored elsewhere is answered there");
    battle_free(f);
    battle_start(b);
    battle_finish(b, 0, 1, NULL);
    battle_finish(b, 1, 1, NULL);
    CHECK(battle_follow_up(b, "again", 2) == BATTLE_E_TURNS, "turn limit");

    free(conv_a);
    free(conv_b);
    conv_a = battle_conv_json(b, 0);
    conv_b = battle_conv_json(b, 1);
    battle *c = battle_restore("id1", "ma", "mb", 1, 2, 1.5, conv_a, conv_b, SIDE_DONE, SIDE_DONE, 1, 0);
    char *again = c ? battle_conv_json(c, 0) : NULL;
    CHECK(c && strcmp(c->id, "id1") == 0 && c->turns == 2 && c->phase == BATTLE_ANSWERED && c->side[1].leak &&
          strcmp(c->side[1].model, "mb") == 0 && again && strcmp(again, conv_a) == 0, "restore an answered battle");
    free(again);
    free(conv_a);
    free(conv_b);
    CHECK(battle_vote(c) == BATTLE_OK && c->phase == BATTLE_VOTED, "vote");
    CHECK(battle_vote(c) == BATTLE_E_VOTED, "second vote refused");
    CHECK(battle_follow_up(c, "after", 9) == BATTLE_E_VOTED && battle_regenerate(c) == BATTLE_E_VOTED, "no turns after the reveal");
    battle_free(c);
    battle_free(b);

    b = battle_new("id2", "ma", "mb", 0, "p", 0);
    battle_start(b);
    battle_finish(b, 0, 0, NULL);
    battle_finish(b, 1, 1, NULL);
    CHECK(b->phase == BATTLE_ANSWERED && battle_can_vote(b) == BATTLE_E_FAILED, "a failed side cannot be voted on");
    CHECK(battle_regenerate(b) == BATTLE_OK, "but it can be regenerated");
    battle_free(b);
    const char *half = "[{\"role\": \"user\", \"content\": \"p\"}, {\"role\": \"assistant\", \"content\": \"x\"}]";
    const char *asked = "[{\"role\": \"user\", \"content\": \"p\"}]";
    c = battle_restore("id3", "ma", "mb", 1, 1, 0, half, asked, SIDE_DONE, SIDE_STREAMING, 0, 0);
    CHECK(c && c->phase == BATTLE_WAITING && c->side[0].state == SIDE_PENDING && c->side[0].n_msgs == 1,
          "a turn lost in flight is asked again on both sides");
    CHECK(c && battle_start(c) == BATTLE_OK, "and can be streamed here");
    battle_free(c);
    c = battle_restore("id4", "ma", "mb", 1, 1, 0, half, half, SIDE_DONE, SIDE_DONE, 0, 1);
    CHECK(c && c->phase == BATTLE_VOTED && battle_follow_up(c, "x", 9) == BATTLE_E_VOTED, "a voted battle stays closed");
    battle_free(c);
    CHECK(battle_restore("id5", "ma", "mb", 1, 1, 0, half, NULL, SIDE_DONE, SIDE_DONE, 0, 0) == NULL, "a missing conversation is refused");
    static const char *const refused[] = {
        "[{\"role\": \"assistant\", \"content\": \"x\"}]",                                   /* the model first */
        "[{\"role\": \"user\", \"content\": \"p\"}, {\"role\": \"user\", \"content\": \"q\"}]",  /* not alternating */
        "[{\"role\": \"user\", \"content\": 7}]", "[{\"role\": \"user\"}]", "{}", "[", "[\"p\"]",
        "[{\"role\": \"user\", \"content\": \"a\\u0000b\"}]",                              /* a NUL */
    };
    int refusals = 0;
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        battle *r = battle_restore("id6", "ma", "mb", 1, 1, 0, half, refused[i], SIDE_DONE, SIDE_DONE, 0, 0);
        refusals += r == NULL;
        battle_free(r);
    }
    CHECK(refusals == (int)(sizeof refused / sizeof *refused), "conversations that are not alternating messages are refused (%d)", refusals);

    const char *leaks[] = {"I was trained by OpenAI.", "as a LLaMA model", "Karpathy wrote me", "T\xc3\xbclu here"};
    for (size_t i = 0; i < 4; i++) CHECK(battle_identity_leaks(ident, leaks[i], strlen(leaks[i])), "leak: %s", leaks[i]);
    const char *clean = "Once upon a time there was a little dog.";
    CHECK(!battle_identity_leaks(ident, clean, strlen(clean)), "no leak in a story");
    battle_identity_free(ident);
}

static void test_conversation_json(void)
{
    const char *prompt = "say \"hi\"\n\tand \\ \x01 caf\xc3\xa9 \xe2\x9c\x93 </script>";
    battle *b = battle_new("id7", "ma", "mb", 1, prompt, 0);
    battle_start(b);
    battle_append(b, 0, "ok\r", 3);
    battle_finish(b, 0, 1, NULL);
    char *text = battle_conv_json(b, 0);
    json_error_t e;
    json_t *conv = text ? json_loads(text, 0, &e) : NULL;
    CHECK(conv && json_array_size(conv) == 2 &&
          strcmp(json_string_value(json_object_get(json_array_get(conv, 0), "content")), prompt) == 0 &&
          strcmp(json_string_value(json_object_get(json_array_get(conv, 1), "content")), "ok\r") == 0 &&
          strcmp(json_string_value(json_object_get(json_array_get(conv, 1), "role")), "assistant") == 0,
          "escaped text reads back the same through a JSON parser (%s)", text);
    battle *r = battle_restore("id7", "ma", "mb", 1, 1, 0, text, text, SIDE_DONE, SIDE_DONE, 0, 0);
    char *again = r ? battle_conv_json(r, 1) : NULL;
    CHECK(again && strcmp(again, text) == 0, "and restores to the same conversation");
    free(again);
    battle_free(r);
    json_decref(conv);
    free(text);
    battle_free(b);
}

int main(void)
{
    test_pick();
    test_machine();
    test_conversation_json();
    return check_exit();
}
