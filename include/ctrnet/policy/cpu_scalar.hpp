// The reference policy: plain loops, templated on T (float and double). The truth that every
// faster backend is tested against.
#pragma once

namespace ctrnet {

/// \brief Reference backend tag: simplest correct loops, single-threaded.
struct cpu_scalar {
  static constexpr const char* name = "cpu_scalar";
};

}  // namespace ctrnet
