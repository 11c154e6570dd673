/* serve.c: flags and HTTP wiring of `arena-worker serve`. */
#include "serve.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct serve_opts {
    const char *model_path, *tokenizer_path, *name, *host, *device, *chat_template;
    int port, threads, max_batch, max_queue;
};

static void usage(FILE *f)
{
    fputs("usage: arena-worker serve --model FILE --tokenizer FILE --name NAME --port PORT\n"
          "                          [--host ADDR] [--device cpu|cuda] [--threads N]\n"
          "                          [--max-batch B] [--max-queue Q]\n"
          "                          [--chat-template last-user|concat]\n", f);
}

/* Parses a decimal int in [lo, hi]; 0 on success. */
static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct serve_opts *o)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},     {"tokenizer", required_argument, 0, 'z'},
        {"name", required_argument, 0, 'n'},      {"port", required_argument, 0, 'p'},
        {"host", required_argument, 0, 'H'},      {"device", required_argument, 0, 'd'},
        {"threads", required_argument, 0, 't'},   {"max-batch", required_argument, 0, 'b'},
        {"max-queue", required_argument, 0, 'q'}, {"chat-template", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0},
    };
    *o = (struct serve_opts){.host = "127.0.0.1", .device = "cpu", .chat_template = "last-user",
                             .port = -1, .threads = 1, .max_batch = 32, .max_queue = 256};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'm': o->model_path = optarg; break;
        case 'z': o->tokenizer_path = optarg; break;
        case 'n': o->name = optarg; break;
        case 'H': o->host = optarg; break;
        case 'd': o->device = optarg; break;
        case 'c': o->chat_template = optarg; break;
        case 'p': bad = parse_int(optarg, 0, 65535, &o->port); break;
        case 't': bad = parse_int(optarg, 1, 1024, &o->threads); break;
        case 'b': bad = parse_int(optarg, 1, 4096, &o->max_batch); break;
        case 'q': bad = parse_int(optarg, 0, 1 << 20, &o->max_queue); break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        if (bad) {
            const struct option *lo = longopts;
            while (lo->val != c)
                lo++;
            fprintf(stderr, "arena-worker serve: bad value for --%s: '%s'\n", lo->name, optarg);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "arena-worker serve: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->model_path || !o->tokenizer_path || !o->name || o->port < 0) {
        fprintf(stderr, "arena-worker serve: --model, --tokenizer, --name and --port are required\n");
        usage(stderr);
        return -1;
    }
    return 0;
}

int serve_main(int argc, char **argv)
{
    struct serve_opts o;
    if (parse_opts(argc, argv, &o) < 0)
        return 2;
    fprintf(stderr, "arena-worker serve: not available yet\n");
    return 1;
}
