// ArchitectureTraits of TabTransformer (save_model / load_model, see io/architecture.hpp) and the
// JSON form of TabTransformerOptions.
#pragma once
#include <nlohmann/json.hpp>

#include "ctrnet/io/architecture.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/models/tab_transformer.hpp"

namespace ctrnet {

inline void to_json(nlohmann::json& j, const TabTransformerOptions& o) {
  j = {{"embedding_dim", o.embedding_dim},
       {"column_mode", to_string(o.column_mode)},
       {"column_dim", o.column_dim},
       {"blocks", o.blocks},
       {"heads", o.heads},
       {"ff_hidden", o.ff_hidden},
       {"attention_dropout", o.attention_dropout},
       {"norm_first", o.norm_first},
       {"dense_norm", o.dense_norm},
       {"hidden", o.hidden},
       {"activation", to_string(o.activation)},
       {"dropout", o.dropout}};
}
inline void from_json(const nlohmann::json& j, TabTransformerOptions& o) {
  constexpr std::string_view w = "TabTransformerOptions";
  detail::json_only_keys(j,
                         {"embedding_dim", "column_mode", "column_dim", "blocks", "heads", "ff_hidden",
                          "attention_dropout", "norm_first", "dense_norm", "hidden", "activation", "dropout"},
                         w);
  o.embedding_dim = detail::json_size(j, "embedding_dim", w);
  o.column_mode = parse_column_embedding(detail::json_get<std::string>(j, "column_mode", w));
  o.column_dim = detail::json_size(j, "column_dim", w);
  o.blocks = detail::json_size(j, "blocks", w);
  o.heads = detail::json_size(j, "heads", w);
  o.ff_hidden = detail::json_size(j, "ff_hidden", w);
  o.attention_dropout = detail::json_get<double>(j, "attention_dropout", w);
  o.norm_first = detail::json_get<bool>(j, "norm_first", w);
  o.dense_norm = detail::json_get<bool>(j, "dense_norm", w);
  o.hidden = detail::json_get<std::vector<index_t>>(j, "hidden", w);
  o.activation = parse_activation(detail::json_get<std::string>(j, "activation", w));
  o.dropout = detail::json_get<double>(j, "dropout", w);
}

/// Widths a file claims, checked against the elements it stores before anything is allocated
/// (found by argument-dependent lookup from load_model's rebuild_model).
inline void check_option_sizes(const TabTransformerOptions& o, std::uint64_t elements, std::size_t tensors,
                               const std::string& src) {
  detail::check_width(o.embedding_dim, elements, "embedding_dim", src);
  detail::check_width(o.column_dim, elements, "column_dim", src);
  detail::check_width(o.blocks, tensors, "blocks", src);
  detail::check_width(o.heads, elements, "heads", src);
  detail::check_width(o.ff_hidden, elements, "ff_hidden", src);
  for (auto w : o.hidden) detail::check_width(w, elements, "a hidden width", src);
}

template <>
struct ArchitectureTraits<TabTransformerBody> {
  static constexpr std::string_view name = "tab_transformer";
  using Options = TabTransformerOptions;
  static Options options(const TabTransformerBody& b) {
    const TabTransformerEncoder::Options& e = b.template get<0>().inner().options();
    CTRNET_CHECK(e.init.kind == default_embedding_init().kind && e.init.scale == default_embedding_init().scale, name,
                 ": the encoder uses a non-default initialiser, which the flat options cannot express");
    const MLP::Options& mlp = b.template get<1>().inner().options();
    Options o;
    o.embedding_dim = e.embedding_dim;
    o.column_mode = e.column_mode;
    o.column_dim = e.column_dim;
    o.blocks = e.blocks;
    o.heads = e.heads;
    o.ff_hidden = e.ff_hidden;
    o.attention_dropout = e.dropout;
    o.norm_first = e.norm_first;
    o.dense_norm = e.dense_norm;
    o.hidden = mlp.widths;
    o.activation = mlp.activation;
    o.dropout = mlp.dropout;
    return o;
  }
  static TabTransformerBody make_body(const Options& o) { return make_tab_transformer_body(o); }
};

}  // namespace ctrnet
