// Basic scalar types used across ctrnet.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ctrnet {
/// Signed index type for sizes, rows, columns and offsets (Eigen's convention).
using index_t = std::ptrdiff_t;
/// Categorical ids as they arrive from data (hashed or vocabulary-mapped). Not `id_t`, which
/// POSIX already declares in the global namespace.
using FeatureId = std::int64_t;
}  // namespace ctrnet
