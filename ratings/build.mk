# ratings/: the ratings engine. lib/ is the library (no I/O policy), cli/ is bin/arena-ratings.
RATINGS_LIB    := $(BUILD)/libratings.a
RATINGS_LDLIBS := -lgsl -lgslcblas -lyajl -ljansson -lz -lm
CPPFLAGS += -Iratings/lib

$(RATINGS_LIB): $(call objs,ratings/lib)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/arena-ratings: $(call objs,ratings/cli) $(RATINGS_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(RATINGS_LDLIBS) -o $@

PROGRAMS += $(BIN)/arena-ratings
$(eval $(call test_rules,ratings,$(RATINGS_LIB),$(RATINGS_LDLIBS)))
