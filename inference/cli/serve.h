/* serve.h: `arena-worker serve`, the OpenAI-compatible HTTP front of the worker.
 * main.c dispatches `arena-worker serve ARGS...` here with argv[0] == "serve". */
#ifndef ARENA_SERVE_H
#define ARENA_SERVE_H

/* Parses the serve flags, loads the model and serves until SIGINT/SIGTERM.
 * Returns the process exit status: 0 after a clean shutdown, 1 on a runtime
 * error, 2 on a usage error. */
int serve_main(int argc, char **argv);

#endif
