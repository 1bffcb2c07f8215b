// EXPECT-ERROR: ctrnet::Model: wrong wiring
// A model whose body does not start with an input layer (it reads a dense matrix) must not compile.
#include "ctrnet/compose/model.hpp"
#include "ctrnet/heads/binary.hpp"
#include "ctrnet/layers/mlp.hpp"

int main() {
  ctrnet::Model<ctrnet::MLP, ctrnet::BinaryHead> m;
  (void)m;
}
