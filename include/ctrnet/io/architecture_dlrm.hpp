// Persistence of DLRM (models/dlrm.hpp): ArchitectureTraits<DLRMBody> (name "dlrm"), the JSON of
// DLRMOptions stored in a saved model's __metadata__ "options", and the size checks load_model runs
// on them before allocating. Include it (after or instead of io/model_io.hpp) wherever DLRM models
// are saved or loaded.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/io/architecture.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/models/dlrm.hpp"

namespace ctrnet {

inline void to_json(nlohmann::json& j, const DLRMOptions& o) {
  j = {{"embedding_dim", o.embedding_dim},
       {"bottom", o.bottom},
       {"top", o.top},
       {"activation", to_string(o.activation)},
       {"self_interaction", o.self_interaction},
       {"dropout", o.dropout}};
}
inline void from_json(const nlohmann::json& j, DLRMOptions& o) {
  constexpr std::string_view w = "DLRMOptions";
  detail::json_only_keys(j, {"embedding_dim", "bottom", "top", "activation", "self_interaction", "dropout"}, w);
  o.embedding_dim = detail::json_size(j, "embedding_dim", w);
  o.bottom = detail::json_get<std::vector<index_t>>(j, "bottom", w);
  o.top = detail::json_get<std::vector<index_t>>(j, "top", w);
  o.activation = parse_activation(detail::json_get<std::string>(j, "activation", w));
  o.self_interaction = detail::json_get<bool>(j, "self_interaction", w);
  o.dropout = detail::json_get<double>(j, "dropout", w);
}

/// Widths a file claims, checked against the elements it stores before anything is allocated
/// (found by argument-dependent lookup from load_model's rebuild_model).
inline void check_option_sizes(const DLRMOptions& o, std::uint64_t elements, std::size_t, const std::string& src) {
  detail::check_width(o.embedding_dim, elements, "embedding_dim", src);
  for (auto w : o.bottom) detail::check_width(w, elements, "a bottom width", src);
  for (auto w : o.top) detail::check_width(w, elements, "a top width", src);
}

template <>
struct ArchitectureTraits<DLRMBody> {
  static constexpr std::string_view name = "dlrm";
  using Options = DLRMOptions;
  static Options options(const DLRMBody& b) {
    const DLRMInput::Options& in = b.template get<0>().inner().options();
    const DotInteraction::Options& it = b.template get<1>().inner().options();
    const MLP::Options& top = b.template get<2>().inner().options();
    CTRNET_CHECK(it.keep_first && it.dim == in.embedding_dim, name,
                 ": the body differs from make_dlrm_body's, which the flat options cannot express");
    Options o;
    o.embedding_dim = in.embedding_dim;
    o.bottom = in.bottom;
    o.top = top.widths;
    o.activation = in.activation;
    o.self_interaction = it.self_interaction;
    o.dropout = top.dropout;
    return o;
  }
  static DLRMBody make_body(const Options& o) { return make_dlrm_body(o); }
};

}  // namespace ctrnet
