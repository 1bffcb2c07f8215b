// EXPECT-ERROR: ctrnet compile-fail sanity
#include <type_traits>
static_assert(std::is_same_v<int, float>, "ctrnet compile-fail sanity");
int main() {}
