// Downstream consumer of an installed ctrnet (see tests/consumer/CMakeLists.txt).
#include <ctrnet/core/matrix.hpp>

int main() {
  ctrnet::Matrix<float> m(2, 3, 1.0f);
  return m.rows() == 2 ? 0 : 1;
}
