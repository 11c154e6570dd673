# inference/cuda/: the GPU backend, built only by `make cuda` (needs nvcc; `make` never
# touches these rules). Included by inference/build.mk.
#
#   make cuda       bin/arena-worker-cuda (arena-worker with --device cuda), the CUDA
#                   kernel tests bin/cuda-test-inference-kernels, bin/cuda-bench-inference
#   make test-cuda  kernel tests and the golden greedy texts on the GPU ("N passed, N failed")
#
# Device code for Hopper (sm_90: H100/H200) plus compute_80 PTX that the driver compiles
# for any other GPU from Ampere on. Override with CUDA_ARCH=... for another target.
CUDA_HOME ?= /usr/local/cuda
NVCC      ?= $(CUDA_HOME)/bin/nvcc
CUDA_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=compute_80
NVCCFLAGS ?= -O3 -g -lineinfo
NVCCFLAGS += -std=c++17 $(CUDA_ARCH) -MMD -MP -Xcompiler -Wall,-Wextra,-Wno-unused-parameter
CUDA_LIBDIR ?= $(CUDA_HOME)/lib64
CUDA_LDLIBS := -L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcublas -lcudart -lstdc++

CUDA_OBJS := $(patsubst %.cu,$(BUILD)/%.o,$(wildcard inference/cuda/*.cu))
CUDA_PROGS := $(BIN)/arena-worker-cuda $(BIN)/cuda-test-inference-kernels $(BIN)/cuda-bench-inference

$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) $(CPPFLAGS) -Iinference/cuda -c $< -o $@

# The CUDA objects are linked explicitly: engine.c's weak reference would not pull them
# from an archive (backend.h). The test and the benchmark use no server code, so they
# need neither libevent nor jansson.
define cuda_link
@mkdir -p $(dir $@)
$(CC) $(LDFLAGS) $^ $(1) $(CUDA_LDLIBS) -o $@
endef
$(BIN)/arena-worker-cuda: $(call objs,inference/cli) $(CUDA_OBJS) $(INFERENCE_LIB)
	$(call cuda_link,$(INFERENCE_LDLIBS))
$(BIN)/cuda-test-inference-kernels: $(BUILD)/tests/inference/cuda_test_kernels.o $(CUDA_OBJS) $(INFERENCE_LIB)
	$(call cuda_link,-lm)
$(BIN)/cuda-bench-inference: $(BUILD)/tests/inference/cuda_bench.o $(CUDA_OBJS) $(INFERENCE_LIB)
	$(call cuda_link,-lm)

cuda: $(CUDA_PROGS)

# tests/run.sh runs $ARENA_BIN/test-*: give it a directory holding only the CUDA tests
# (and the worker the golden script runs), so the summary and logs are the usual ones.
CUDA_TEST_DIR := $(BUILD)/cuda-tests
test-cuda: cuda
	@mkdir -p $(CUDA_TEST_DIR)
	@ln -sf $(abspath $(BIN)/cuda-test-inference-kernels) $(CUDA_TEST_DIR)/test-cuda-kernels
	@ln -sf $(abspath tests/inference/cuda_golden.sh) $(CUDA_TEST_DIR)/test-cuda-golden
	@ln -sf $(abspath $(BIN)/arena-worker-cuda) $(CUDA_TEST_DIR)/arena-worker-cuda
	@ARENA_BIN=$(abspath $(CUDA_TEST_DIR)) tests/run.sh test-cuda-
