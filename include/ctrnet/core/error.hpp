// ctrnet::Error — the one exception type the library throws for bad user input
// (schemas, ids, files, options). Messages say what was wrong and what was expected.
#pragma once
#include <stdexcept>
#include <string>
#include <sstream>

namespace ctrnet {

/// \brief Error raised for anything a user can fix: bad options, out-of-range ids, bad files.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Args>
[[noreturn]] inline void throw_error(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}
}  // namespace detail

/// Throws ctrnet::Error built from the streamed arguments when `cond` is false.
#define CTRNET_CHECK(cond, ...)                                   \
  do {                                                            \
    if (!(cond)) ::ctrnet::detail::throw_error(__VA_ARGS__);      \
  } while (0)

}  // namespace ctrnet
