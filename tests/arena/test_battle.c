/* Picking, the battle state machine, JSON round trip, identity leaks. */
#include "battle.h"
#include "../check.h"

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
    CHECK(json_array_size(b->side[0].conv) == 2, "answer joins the conversation");
    CHECK(battle_regenerate(b) == BATTLE_OK && json_array_size(b->side[0].conv) == 1 && b->phase == BATTLE_WAITING, "regenerate drops the answers");
    battle_start(b);
    battle_append(b, 0, "A", 1);
    battle_append(b, 1, "B", 1);
    battle_finish(b, 1, 1, ident);
    battle_finish(b, 0, 1, ident);
    CHECK(battle_follow_up(b, "more", 2) == BATTLE_OK && b->turns == 2 && json_array_size(b->side[1].conv) == 3, "follow-up");
    CHECK(b->phase == BATTLE_WAITING && b->side[0].state == SIDE_PENDING && b->side[1].state == SIDE_PENDING,
          "a follow-up leaves both answers pending");
    /* As another server restores it from Redis, where a pending side is saved as streaming. */
    battle *f = battle_restore("id0", "ma", "mb", 1, 2, 0, b->side[0].conv, b->side[1].conv, SIDE_STREAMING, SIDE_STREAMING, 0, 0);
    CHECK(f && f->phase == BATTLE_WAITING && json_array_size(f->side[0].conv) == 3 && battle_start(f) == BATTLE_OK,
          "a follow-up restored elsewhere is answered there");
    battle_free(f);
    battle_start(b);
    battle_finish(b, 0, 1, NULL);
    battle_finish(b, 1, 1, NULL);
    CHECK(battle_follow_up(b, "again", 2) == BATTLE_E_TURNS, "turn limit");

    battle *c = battle_restore("id1", "ma", "mb", 1, 2, 1.5, b->side[0].conv, b->side[1].conv, SIDE_DONE, SIDE_DONE, 1, 0);
    CHECK(c && strcmp(c->id, "id1") == 0 && c->turns == 2 && c->phase == BATTLE_ANSWERED && c->side[1].leak &&
          strcmp(c->side[1].model, "mb") == 0 && json_equal(c->side[0].conv, b->side[0].conv), "restore an answered battle");
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
    json_t *half = json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "user", "content", "p", "role", "assistant", "content", "x");
    json_t *asked = json_pack("[{s:s,s:s}]", "role", "user", "content", "p");
    c = battle_restore("id3", "ma", "mb", 1, 1, 0, half, asked, SIDE_DONE, SIDE_STREAMING, 0, 0);
    CHECK(c && c->phase == BATTLE_WAITING && c->side[0].state == SIDE_PENDING && json_array_size(c->side[0].conv) == 1,
          "a turn lost in flight is asked again on both sides");
    CHECK(c && battle_start(c) == BATTLE_OK, "and can be streamed here");
    battle_free(c);
    c = battle_restore("id4", "ma", "mb", 1, 1, 0, half, half, SIDE_DONE, SIDE_DONE, 0, 1);
    CHECK(c && c->phase == BATTLE_VOTED && battle_follow_up(c, "x", 9) == BATTLE_E_VOTED, "a voted battle stays closed");
    battle_free(c);
    CHECK(battle_restore("id5", "ma", "mb", 1, 1, 0, half, NULL, SIDE_DONE, SIDE_DONE, 0, 0) == NULL, "a missing conversation is refused");
    json_decref(half);
    json_decref(asked);

    const char *leaks[] = {"I was trained by OpenAI.", "as a LLaMA model", "Karpathy wrote me", "T\xc3\xbclu here"};
    for (size_t i = 0; i < 4; i++) CHECK(battle_identity_leaks(ident, leaks[i], strlen(leaks[i])), "leak: %s", leaks[i]);
    const char *clean = "Once upon a time there was a little dog.";
    CHECK(!battle_identity_leaks(ident, clean, strlen(clean)), "no leak in a story");
    battle_identity_free(ident);
}

int main(void)
{
    test_pick();
    test_machine();
    return check_exit();
}
