// EXPECT-ERROR: ctrnet::Sequential: wrong wiring
// A layer that reads the raw batch (FeatureInput) placed after a dense layer must not compile.
#include "ctrnet/compose/sequential.hpp"
#include "ctrnet/layers/feature_input.hpp"
#include "ctrnet/layers/linear.hpp"

int main() {
  ctrnet::Sequential<ctrnet::Linear, ctrnet::FeatureInput> net;
  (void)net;
}
