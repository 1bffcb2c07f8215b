// EXPECT-ERROR: ctrnet::Parallel: wrong wiring
// Branches that read different kinds of input (batch vs dense matrix) must not compile.
#include "ctrnet/compose/parallel.hpp"
#include "ctrnet/layers/feature_input.hpp"
#include "ctrnet/layers/linear.hpp"

int main() {
  ctrnet::Parallel<ctrnet::Concat, ctrnet::FeatureInput, ctrnet::Linear> p;
  (void)p;
}
