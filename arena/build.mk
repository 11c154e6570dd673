# arena/: the arena server. lib/ is config, registry, battles, vote store, board, exports;
# server/ is bin/arena-server (libevent HTTP/TLS, SSE fan-in of two upstreams).
ARENA_LIB    := $(BUILD)/libarena.a
ARENA_LDLIBS := -levent -levent_openssl -levent_pthreads -lhiredis -lssl -lcrypto $(RATINGS_LDLIBS) -lpthread
CPPFLAGS += -Iarena/lib

$(ARENA_LIB): $(call objs,arena/lib)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/arena-server: $(call objs,arena/server) $(ARENA_LIB) $(RATINGS_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(ARENA_LDLIBS) -o $@

PROGRAMS += $(BIN)/arena-server
$(eval $(call test_rules,arena,$(ARENA_LIB) $(RATINGS_LIB),$(ARENA_LDLIBS)))
