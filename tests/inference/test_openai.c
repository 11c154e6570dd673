/* test_openai: request validation and the JSON the server writes (openai.h). */
#include <jansson.h>
#include <string.h>

#include "../check.h"
#include "openai.h"

static int parse(const char *body, enum oai_kind kind, enum oai_template tmpl,
                 struct oai_request *req, struct oai_error *err)
{
    return oai_parse_request(body, strlen(body), kind, "stories", tmpl, req, err);
}

/* The request must be rejected with 400 naming PARAM ("" for none). */
static void expect_bad(const char *body, enum oai_kind kind, const char *param)
{
    struct oai_request req;
    struct oai_error err;
    int rc = parse(body, kind, OAI_TEMPLATE_LAST_USER, &req, &err);
    CHECK(rc == -1 && err.status == 400 && !strcmp(err.param, param) && err.message[0],
          "rejected (param '%s'): %s", param, body);
}

/* Parses B's text as JSON (after an optional "data: " prefix). */
static json_t *load(const struct oai_buf *b)
{
    const char *s = b->data;
    if (!strncmp(s, "data: ", 6))
        s += 6;
    return json_loads(s, JSON_DISABLE_EOF_CHECK, NULL);
}

static void test_parse(void)
{
    struct oai_request req;
    struct oai_error err;
    const char *chat = "{\"model\":\"stories\",\"messages\":[{\"role\":\"system\",\"content\":\"Be kind\"},"
                       "{\"role\":\"user\",\"content\":\"Once\"},{\"role\":\"assistant\",\"content\":\"x\"},"
                       "{\"role\":\"user\",\"content\":\"Once upon a time\"}]}";
    CHECK(parse(chat, OAI_CHAT, OAI_TEMPLATE_LAST_USER, &req, &err) == 0, "chat request parses");
    CHECK(!strcmp(req.prompt, "Once upon a time"), "last-user template takes the last user message");
    CHECK(req.temperature == 1.0f && req.top_p == 1.0f && req.max_tokens == 0 && !req.stream &&
          !req.has_seed && req.n_stop == 0, "defaults as OpenAI's");
    oai_request_free(&req);
    CHECK(parse(chat, OAI_CHAT, OAI_TEMPLATE_CONCAT, &req, &err) == 0 &&
          !strcmp(req.prompt, "Be kind\nOnce\nx\nOnce upon a time"), "concat template joins all messages");
    oai_request_free(&req);
    const char *with_null = "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                            "{\"role\":\"assistant\",\"content\":null},{\"role\":\"user\",\"content\":\"b\"}]}";
    CHECK(parse(with_null, OAI_CHAT, OAI_TEMPLATE_CONCAT, &req, &err) == 0 && !strcmp(req.prompt, "a\nb"),
          "an assistant message with null content adds no text");
    oai_request_free(&req);
    CHECK(parse("{\"messages\":[{\"role\":\"assistant\",\"content\":null}]}", OAI_CHAT, OAI_TEMPLATE_CONCAT,
                &req, &err) == 0 && !strcmp(req.prompt, ""), "concat of no text is empty (generation starts from BOS)");
    oai_request_free(&req);

    const char *full = "{\"prompt\":\"Hi\",\"max_tokens\":5,\"temperature\":0,\"top_p\":0.5,\"seed\":42,"
                       "\"stop\":[\"a\",\"bc\"],\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                       "\"frequency_penalty\":0}";
    CHECK(parse(full, OAI_COMPLETION, OAI_TEMPLATE_LAST_USER, &req, &err) == 0, "completion request parses");
    CHECK(!strcmp(req.prompt, "Hi") && req.max_tokens == 5 && req.temperature == 0 && req.top_p == 0.5f &&
          req.has_seed && req.seed == 42 && req.n_stop == 2 && !strcmp(req.stop[1], "bc") &&
          req.stream && req.include_usage, "every field is read; unknown fields are ignored");
    oai_request_free(&req);
    CHECK(parse("{\"prompt\":[\"Hi\"],\"stop\":\"x\",\"max_tokens\":null}", OAI_COMPLETION,
                OAI_TEMPLATE_LAST_USER, &req, &err) == 0 && !strcmp(req.prompt, "Hi") &&
          req.n_stop == 1 && req.max_tokens == 0, "prompt array of one, stop string, null as absent");
    oai_request_free(&req);

    expect_bad("{\"prompt\":", OAI_COMPLETION, "");
    expect_bad("[1,2]", OAI_COMPLETION, "");
    expect_bad("", OAI_COMPLETION, "");
    expect_bad("{}", OAI_COMPLETION, "prompt");
    expect_bad("{}", OAI_CHAT, "messages");
    expect_bad("{\"messages\":[]}", OAI_CHAT, "messages");
    expect_bad("{\"messages\":\"hi\"}", OAI_CHAT, "messages");
    expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":5}]}", OAI_CHAT, "messages");
    expect_bad("{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}", OAI_CHAT, "messages");
    expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":null}]}", OAI_CHAT, "messages");
    expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":[]}]}",
               OAI_CHAT, "messages");
    expect_bad("{\"prompt\":5}", OAI_COMPLETION, "prompt");
    expect_bad("{\"prompt\":\"x\",\"max_tokens\":\"5\"}", OAI_COMPLETION, "max_tokens");
    expect_bad("{\"prompt\":\"x\",\"max_tokens\":0}", OAI_COMPLETION, "max_tokens");
    expect_bad("{\"prompt\":\"x\",\"max_tokens\":2.5}", OAI_COMPLETION, "max_tokens");
    expect_bad("{\"prompt\":\"x\",\"temperature\":\"hot\"}", OAI_COMPLETION, "temperature");
    expect_bad("{\"prompt\":\"x\",\"temperature\":-0.1}", OAI_COMPLETION, "temperature");
    expect_bad("{\"prompt\":\"x\",\"top_p\":0}", OAI_COMPLETION, "top_p");
    expect_bad("{\"prompt\":\"x\",\"top_p\":1.5}", OAI_COMPLETION, "top_p");
    expect_bad("{\"prompt\":\"x\",\"seed\":\"1\"}", OAI_COMPLETION, "seed");
    expect_bad("{\"prompt\":\"x\",\"stream\":\"yes\"}", OAI_COMPLETION, "stream");
    expect_bad("{\"prompt\":\"x\",\"stop\":5}", OAI_COMPLETION, "stop");
    expect_bad("{\"prompt\":\"x\",\"stop\":[\"\"]}", OAI_COMPLETION, "stop");
    expect_bad("{\"prompt\":\"x\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", OAI_COMPLETION, "stop");
    expect_bad("{\"prompt\":\"x\",\"n\":2}", OAI_COMPLETION, "n");
    expect_bad("{\"prompt\":\"x\",\"model\":7}", OAI_COMPLETION, "model");

    CHECK(parse("{\"prompt\":\"x\",\"model\":\"gpt-4\"}", OAI_COMPLETION, OAI_TEMPLATE_LAST_USER, &req,
                &err) == -1 && err.status == 400 && !strcmp(err.code, "model_not_found"),
          "an unknown model is a 400 model_not_found");

    enum oai_template t;
    CHECK(oai_template_parse("concat", &t) == 0 && t == OAI_TEMPLATE_CONCAT &&
          oai_template_parse("chatml", &t) == -1, "template names");
}

static void test_write(void)
{
    struct oai_buf b = {0};
    struct oai_meta chat = {OAI_CHAT, "chatcmpl-1", "stories", 1700000000};
    struct oai_meta cmpl = {OAI_COMPLETION, "cmpl-1", "stories", 1700000000};
    struct oai_usage u = {5, 3};
    json_t *j;

    oai_write_response(&b, &chat, "Hi \"there\"\n", 11, "stop", &u);
    j = load(&b);
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "object")), "chat.completion") &&
          !strcmp(json_string_value(json_object_get(j, "model")), "stories") &&
          json_integer_value(json_object_get(j, "created")) == 1700000000, "chat response head");
    json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(c0, "message"), "content")),
                  "Hi \"there\"\n") &&
          !strcmp(json_string_value(json_object_get(json_object_get(c0, "message"), "role")), "assistant") &&
          !strcmp(json_string_value(json_object_get(c0, "finish_reason")), "stop"), "chat response choice");
    CHECK(json_integer_value(json_object_get(json_object_get(j, "usage"), "total_tokens")) == 8,
          "usage totals");
    json_decref(j);

    b.len = 0;
    oai_write_response(&b, &cmpl, "x", 1, "length", &u);
    j = load(&b);
    c0 = json_array_get(json_object_get(j, "choices"), 0);
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "object")), "text_completion") &&
          !strcmp(json_string_value(json_object_get(c0, "text")), "x") &&
          !strcmp(json_string_value(json_object_get(c0, "finish_reason")), "length"), "text_completion response");
    json_decref(j);

    b.len = 0;
    oai_write_chunk(&b, &chat, "Once", 4, 1, NULL, 0);
    j = load(&b);
    json_t *delta = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "delta");
    CHECK(!strncmp(b.data, "data: {", 7) && !strcmp(b.data + b.len - 3, "}\n\n") &&
          !strcmp(json_string_value(json_object_get(j, "object")), "chat.completion.chunk") &&
          !strcmp(json_string_value(json_object_get(delta, "role")), "assistant") &&
          !strcmp(json_string_value(json_object_get(delta, "content")), "Once"), "first chat chunk");
    CHECK(json_is_null(json_object_get(json_array_get(json_object_get(j, "choices"), 0), "finish_reason")),
          "running chunk has finish_reason null");
    json_decref(j);

    b.len = 0;
    oai_write_chunk(&b, &chat, "", 0, 0, "stop", 1);
    j = load(&b);
    c0 = json_array_get(json_object_get(j, "choices"), 0);
    CHECK(json_object_size(json_object_get(c0, "delta")) == 0 &&
          !strcmp(json_string_value(json_object_get(c0, "finish_reason")), "stop") &&
          json_is_null(json_object_get(j, "usage")) && json_object_get(j, "usage"), "final chunk");
    json_decref(j);

    b.len = 0;
    oai_write_usage_chunk(&b, &chat, &u);
    j = load(&b);
    CHECK(json_array_size(json_object_get(j, "choices")) == 0 &&
          json_integer_value(json_object_get(json_object_get(j, "usage"), "completion_tokens")) == 3,
          "usage chunk");
    json_decref(j);

    b.len = 0;
    oai_write_done(&b);
    CHECK(!strcmp(b.data, "data: [DONE]\n\n"), "done event");

    /* Invalid UTF-8 becomes U+FFFD; control bytes are escaped; valid multi-byte text passes. */
    b.len = 0;
    oai_write_chunk(&b, &cmpl, "a\xff\x01\xe2\x82\xac\xc3", 7, 0, NULL, 0);
    j = load(&b);
    c0 = json_array_get(json_object_get(j, "choices"), 0);
    CHECK(j && !strcmp(json_string_value(json_object_get(c0, "text")), "a\xef\xbf\xbd\x01\xe2\x82\xac\xef\xbf\xbd"),
          "text is always valid JSON and UTF-8");
    json_decref(j);

    struct oai_error err;
    oai_error_set(&err, 413, "invalid_request_error", "context_length_exceeded", "prompt", "too long: %d", 600);
    b.len = 0;
    oai_write_error(&b, &err);
    j = load(&b);
    json_t *e = json_object_get(j, "error");
    CHECK(!strcmp(json_string_value(json_object_get(e, "message")), "too long: 600") &&
          !strcmp(json_string_value(json_object_get(e, "type")), "invalid_request_error") &&
          !strcmp(json_string_value(json_object_get(e, "param")), "prompt") &&
          !strcmp(json_string_value(json_object_get(e, "code")), "context_length_exceeded"), "error object");
    json_decref(j);
    oai_error_set(&err, 400, "invalid_request_error", NULL, NULL, "bad");
    b.len = 0;
    oai_write_error(&b, &err);
    j = load(&b);
    e = json_object_get(j, "error");
    CHECK(json_is_null(json_object_get(e, "param")) && json_is_null(json_object_get(e, "code")),
          "absent param and code are null");
    json_decref(j);

    b.len = 0;
    oai_write_models(&b, "stories", 1700000000);
    j = load(&b);
    CHECK(!strcmp(json_string_value(json_object_get(j, "object")), "list") &&
          !strcmp(json_string_value(json_object_get(json_array_get(json_object_get(j, "data"), 0), "id")),
                  "stories"), "models list");
    json_decref(j);
    oai_buf_free(&b);
}

static void test_utf8_tail(void)
{
    CHECK(oai_utf8_incomplete_tail("abc", 3) == 0, "ASCII: nothing held");
    CHECK(oai_utf8_incomplete_tail("a\xe2\x82", 3) == 2, "2 of 3 bytes held");
    CHECK(oai_utf8_incomplete_tail("\xe2\x82\xac", 3) == 0, "complete euro sign");
    CHECK(oai_utf8_incomplete_tail("a\xc3", 2) == 1, "lead byte held");
    CHECK(oai_utf8_incomplete_tail("\xf0\x9f\x98", 3) == 3, "3 of 4 bytes held");
    CHECK(oai_utf8_incomplete_tail("a\xff", 2) == 0, "invalid byte not held");
    CHECK(oai_utf8_incomplete_tail("\xed\xa0", 2) == 0, "surrogate prefix not held");
    CHECK(oai_utf8_incomplete_tail("\x82", 1) == 0, "stray continuation not held");
}

int main(void)
{
    test_parse();
    test_write();
    test_utf8_tail();
    return check_exit();
}
