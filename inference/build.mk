# inference/: the model worker. lib/ is model, tokenizer, sampler, forward passes and the
# batch engine; cli/ is bin/arena-worker (generate, eval, serve). cuda/ is built by make cuda.
INFERENCE_LIB    := $(BUILD)/libinference.a
INFERENCE_LDLIBS := -levent -levent_pthreads -ljansson -lm
CPPFLAGS += -Iinference/lib

$(INFERENCE_LIB): $(call objs,inference/lib)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/arena-worker: $(call objs,inference/cli) $(INFERENCE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(INFERENCE_LDLIBS) -o $@

PROGRAMS += $(BIN)/arena-worker
$(eval $(call test_rules,inference,$(INFERENCE_LIB),$(INFERENCE_LDLIBS)))

# The load client of tests/inference/bench_serve.sh. It takes arguments (URL, streams),
# so it is not a bench_*.c program, which make bench would run bare.
$(BIN)/inference-loadgen: $(BUILD)/tests/inference/loadgen.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -levent -o $@
BENCH_PROGS += $(BIN)/inference-loadgen

# The forward pass is all float loops: -O3 lets gcc vectorise the kernels (interleaved
# partial sums, no -ffast-math, so the arithmetic stays exactly as written).
$(BUILD)/inference/lib/kernels.o $(BUILD)/inference/lib/cpu.o: CFLAGS += -O3

# The GPU path (make cuda, make test-cuda).
include inference/cuda/cuda.mk
