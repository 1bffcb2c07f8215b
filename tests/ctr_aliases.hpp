// The CTR architecture aliases in small configurations, shared by the tests that run every alias
// through the same check (tests/train/test_allocations.cpp, tests/policy_boundary/test_guarded.cpp).
// Each visit_* calls visit(name, make) for its aliases, make(schema) building the model.
#pragma once
#include "ctrnet/models/dcn.hpp"
#include "ctrnet/models/dlrm.hpp"
#include "ctrnet/models/logistic_regression.hpp"
#include "ctrnet/models/tab_transformer.hpp"
#include "ctrnet/models/wide_deep.hpp"

namespace ctrnet::test_util {

inline DCNOptions small_dcn(index_t rank = 0) {
  DCNOptions o;
  o.embedding_dim = 4;
  o.cross_depth = 2;
  o.rank = rank;
  o.hidden = {16, 8};
  return o;
}

/// Logistic regression and Wide & Deep (with dropout).
template <class Visit>
void visit_linear_aliases(Visit&& visit) {
  visit("LR", [](const Schema& s) { return make_logistic_regression(s); });
  visit("Wide & Deep", [](const Schema& s) {
    WideDeepOptions o;
    o.embedding_dim = 4;
    o.hidden = {16, 8};
    o.dropout = 0.1;
    return make_wide_deep(s, o);
  });
}

/// DCN, DCN-V2 stacked (full and low rank) and parallel, DCN-Mix.
template <class Visit>
void visit_dcn_aliases(Visit&& visit) {
  visit("DCN", [](const Schema& s) { return make_dcn(s, small_dcn()); });
  visit("DCN-V2 stacked", [](const Schema& s) { return make_dcn_v2_stacked(s, small_dcn()); });
  visit("DCN-V2 stacked, low rank", [](const Schema& s) { return make_dcn_v2_stacked(s, small_dcn(3)); });
  visit("DCN-V2 parallel", [](const Schema& s) { return make_dcn_v2_parallel(s, small_dcn()); });
  visit("DCN-Mix", [](const Schema& s) {
    DCNOptions o = small_dcn(3);
    o.experts = 2;
    return make_dcn_mix(s, o);
  });
}

/// DLRM and TabTransformer.
template <class Visit>
void visit_interaction_aliases(Visit&& visit) {
  visit("DLRM", [](const Schema& s) {
    DLRMOptions o;
    o.embedding_dim = 4;
    o.bottom = {8, 4};
    o.top = {16, 8};
    return make_dlrm(s, o);
  });
  visit("TabTransformer", [](const Schema& s) {
    TabTransformerOptions o;
    o.embedding_dim = 8;
    o.heads = 2;
    o.blocks = 1;
    o.hidden = {16};
    return make_tab_transformer(s, o);
  });
}

}  // namespace ctrnet::test_util
