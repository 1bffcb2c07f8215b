// Basic scalar types used across ctrnet.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ctrnet {
/// Signed index type for sizes, rows, columns and offsets (Eigen's convention).
using index_t = std::ptrdiff_t;
/// Categorical ids as they arrive from data (hashed or vocabulary-mapped).
using id_t = std::int64_t;
}  // namespace ctrnet
