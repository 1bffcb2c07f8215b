// Every libFuzzer target of fuzz/ in one binary, for scripts/run-fuzzers.sh (and so CI): the nine
// targets share much of their code (the readers, nlohmann::json, the standard library), and one
// binary compiles faster than nine (clang 14, -O1 + ASan + UBSan: 134 s of CPU against 186 s). It
// is linked from three objects of this file, compiled in parallel:
//   -DCTRNET_FUZZ_GROUP=1  the JSON and model-file targets
//   -DCTRNET_FUZZ_GROUP=2  the text readers and the binary cache
//   -DCTRNET_FUZZ_GROUP=0  the dispatcher below
// Each fuzz_<name>.cpp is included with its LLVMFuzzerTestOneInput renamed ctrnet_fuzz_<name>.
// The binary runs the target its own name says: run-fuzzers.sh links build/fuzz/fuzz_<name> to it,
// so `build/fuzz/fuzz_criteo crash-file` replays an input as a single-target binary would.
#include <cstddef>
#include <cstdint>

#define CTRNET_FUZZ_TARGETS(X) \
  X(criteo) X(delimited) X(libsvm) X(sessions) X(movielens) X(binary_cache) X(safetensors) X(schema_json) X(preprocess_json)

#if !defined(CTRNET_FUZZ_GROUP)
#error "compile with -DCTRNET_FUZZ_GROUP=0, 1 or 2"
#elif CTRNET_FUZZ_GROUP == 1
#define LLVMFuzzerTestOneInput ctrnet_fuzz_safetensors
#include "fuzz_safetensors.cpp"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput ctrnet_fuzz_schema_json
#include "fuzz_schema_json.cpp"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput ctrnet_fuzz_preprocess_json
#include "fuzz_preprocess_json.cpp"
#undef LLVMFuzzerTestOneInput
#elif CTRNET_FUZZ_GROUP == 2
#define LLVMFuzzerTestOneInput ctrnet_fuzz_criteo
#include "fuzz_criteo.cpp"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput ctrnet_fuzz_delimited
#include "fuzz_delimited.cpp"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput ctrnet_fuzz_libsvm
#include "fuzz_libsvm.cpp"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput ctrnet_fuzz_sessions
#include "fuzz_sessions.cpp"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput ctrnet_fuzz_movielens
#include "fuzz_movielens.cpp"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput ctrnet_fuzz_binary_cache
#include "fuzz_binary_cache.cpp"
#undef LLVMFuzzerTestOneInput
#else
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define CTRNET_FUZZ_DECLARE(name) extern "C" int ctrnet_fuzz_##name(const std::uint8_t*, std::size_t);
CTRNET_FUZZ_TARGETS(CTRNET_FUZZ_DECLARE)

namespace {
int (*target)(const std::uint8_t*, std::size_t) = nullptr;
}

// Picks the target from the program's name: fuzz_<name>, possibly behind a path.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  const char* self = *argc > 0 ? (*argv)[0] : "";
  const char* slash = std::strrchr(self, '/');
  const char* base = slash ? slash + 1 : self;
#define CTRNET_FUZZ_PICK(name) \
  if (std::strcmp(base, "fuzz_" #name) == 0) target = ctrnet_fuzz_##name;
  CTRNET_FUZZ_TARGETS(CTRNET_FUZZ_PICK)
  if (target == nullptr) {
    std::fprintf(stderr, "%s: run me as fuzz_<target> (a link to me), one of:", self);
#define CTRNET_FUZZ_LIST(name) std::fprintf(stderr, " fuzz_" #name);
    CTRNET_FUZZ_TARGETS(CTRNET_FUZZ_LIST)
    std::fprintf(stderr, "\n");
    std::exit(2);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { return target(data, size); }
#endif
