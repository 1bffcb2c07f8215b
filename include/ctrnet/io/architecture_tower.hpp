// Persistence of towers (compose/tower.hpp), shared by the two-tower and item-to-item models'
// ArchitectureTraits (io/architecture_two_tower.hpp, io/architecture_item_to_item.hpp):
//   TowerTraits<Tower<Body>>::spec(tower)      every option of a (built or unbuilt) tower: the
//                                              Tower::Options and the body's options
//   TowerTraits<Tower<Body>>::make(spec)       the same tower, unbuilt
//   TowerTraits<Tower<Body>>::to_json / from_json / check_sizes
// for the three tower bodies: MLP ("mlp"), CrossTowerBody ("cross": FieldInteractionInput →
// CrossNet<CrossV2> → MLP) and TransformerTowerBody ("transformer"). JSON of a tower:
//   {"kind": "mlp" | "cross" | "transformer", "name", "group", "fields", "embedding_dim",
//    "normalize", "eps", "embedding_init": {"kind", "scale"}, "body": {...the body's options...}}
// Initialisers are stored too (they do not change a loaded model, whose parameters come from the
// file, but a rebuilt model then equals the saved one option for option).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/compose/tower.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/layers/mlp.hpp"
#include "ctrnet/models/two_tower_cross.hpp"
#include "ctrnet/models/two_tower_transformer.hpp"

namespace ctrnet {

namespace detail {

inline InitKind parse_init_kind(std::string_view s) {
  for (InitKind k : {InitKind::zeros, InitKind::ones, InitKind::glorot_uniform, InitKind::he_normal, InitKind::normal,
                     InitKind::uniform})
    if (s == to_string(k)) return k;
  throw_error("unknown initialiser '", s, "': expected zeros, ones, glorot_uniform, he_normal, normal or uniform");
}
inline nlohmann::json init_to_json(const Init& i) { return {{"kind", to_string(i.kind)}, {"scale", i.scale}}; }
inline Init init_from_json(const nlohmann::json& j, const char* key, const std::string& what) {
  const std::string w = what + " '" + key + "'";
  const nlohmann::json& v = json_at(j, key, what);
  json_only_keys(v, {"kind", "scale"}, w);
  Init i;
  i.kind = parse_init_kind(json_get<std::string>(v, "kind", w));
  i.scale = json_get<double>(v, "scale", w);
  return i;
}

inline nlohmann::json mlp_to_json(const MLP::Options& o) {
  return {{"widths", o.widths},
          {"activation", to_string(o.activation)},
          {"last_activation", o.last_activation ? nlohmann::json(to_string(*o.last_activation)) : nlohmann::json(nullptr)},
          {"dropout", o.dropout},
          {"init", init_to_json(o.init)}};
}
inline MLP::Options mlp_from_json(const nlohmann::json& j, const std::string& what) {
  json_only_keys(j, {"widths", "activation", "last_activation", "dropout", "init"}, what);
  MLP::Options o;
  o.widths = json_get<std::vector<index_t>>(j, "widths", what);
  o.activation = parse_activation(json_get<std::string>(j, "activation", what));
  const nlohmann::json& last = json_at(j, "last_activation", what);
  if (last.is_null())
    o.last_activation = std::nullopt;
  else
    o.last_activation = parse_activation(json_get<std::string>(j, "last_activation", what));
  o.dropout = json_get<double>(j, "dropout", what);
  o.init = init_from_json(j, "init", what);
  return o;
}
inline void check_mlp_sizes(const MLP::Options& o, std::uint64_t elements, const std::string& src) {
  for (auto w : o.widths) check_width(w, elements, "an MLP width", src);
}

}  // namespace detail

/// Options of a tower body that can be saved; specialised below for MLP, CrossTowerBody and
/// TransformerTowerBody.
template <class Body>
struct TowerBodyTraits;

template <>
struct TowerBodyTraits<MLP> {
  static constexpr std::string_view kind = "mlp";
  using Spec = MLP::Options;
  static Spec spec(const MLP& b) { return b.options(); }
  static MLP make(const Spec& s) { return MLP(s); }
  static nlohmann::json to_json(const Spec& s) { return detail::mlp_to_json(s); }
  static Spec from_json(const nlohmann::json& j, const std::string& what) { return detail::mlp_from_json(j, what); }
  static void check_sizes(const Spec& s, std::uint64_t elements, std::size_t, const std::string& src) {
    detail::check_mlp_sizes(s, elements, src);
  }
};

/// The three parts of a cross tower's body, with the scope names of its Named layers.
struct CrossTowerBodySpec {
  std::string input_name{};  ///< "" in make_cross_tower (no scope)
  FieldInteractionInput::Options input{};
  std::string cross_name = "cross";
  CrossNet<CrossV2>::Options cross{};
  std::string deep_name = "deep";
  MLP::Options deep{};
};

template <>
struct TowerBodyTraits<CrossTowerBody> {
  static constexpr std::string_view kind = "cross";
  using Spec = CrossTowerBodySpec;
  static Spec spec(const CrossTowerBody& b) {
    Spec s;
    s.input_name = b.template get<0>().name();
    s.input = b.template get<0>().inner().options();
    s.cross_name = b.template get<1>().name();
    s.cross = b.template get<1>().inner().options();
    s.deep_name = b.template get<2>().name();
    s.deep = b.template get<2>().inner().options();
    return s;
  }
  static CrossTowerBody make(const Spec& s) {
    return CrossTowerBody(Named<FieldInteractionInput>(s.input_name, FieldInteractionInput(s.input)),
                          Named<CrossNet<CrossV2>>(s.cross_name, CrossNet<CrossV2>(s.cross)),
                          Named<MLP>(s.deep_name, MLP(s.deep)));
  }
  static nlohmann::json to_json(const Spec& s) {
    return {{"input",
             {{"name", s.input_name},
              {"group", s.input.group},
              {"fields", s.input.fields},
              {"embedding_dim", s.input.embedding_dim},
              {"self_interaction", s.input.self_interaction},
              {"init", detail::init_to_json(s.input.init)}}},
            {"cross",
             {{"name", s.cross_name},
              {"depth", s.cross.depth},
              {"rank", s.cross.layer.rank},
              {"init", detail::init_to_json(s.cross.layer.init)}}},
            {"deep", {{"name", s.deep_name}, {"mlp", detail::mlp_to_json(s.deep)}}}};
  }
  static Spec from_json(const nlohmann::json& j, const std::string& what) {
    detail::json_only_keys(j, {"input", "cross", "deep"}, what);
    Spec s;
    const std::string wi = what + " 'input'", wc = what + " 'cross'", wd = what + " 'deep'";
    const nlohmann::json& in = detail::json_at(j, "input", what);
    detail::json_only_keys(in, {"name", "group", "fields", "embedding_dim", "self_interaction", "init"}, wi);
    s.input_name = detail::json_get<std::string>(in, "name", wi);
    s.input.group = detail::json_get<std::string>(in, "group", wi);
    s.input.fields = detail::json_get<std::vector<std::string>>(in, "fields", wi);
    s.input.embedding_dim = detail::json_size(in, "embedding_dim", wi);
    s.input.self_interaction = detail::json_get<bool>(in, "self_interaction", wi);
    s.input.init = detail::init_from_json(in, "init", wi);
    const nlohmann::json& cr = detail::json_at(j, "cross", what);
    detail::json_only_keys(cr, {"name", "depth", "rank", "init"}, wc);
    s.cross_name = detail::json_get<std::string>(cr, "name", wc);
    s.cross.depth = detail::json_size(cr, "depth", wc);
    s.cross.layer.rank = detail::json_size(cr, "rank", wc);
    s.cross.layer.init = detail::init_from_json(cr, "init", wc);
    const nlohmann::json& dp = detail::json_at(j, "deep", what);
    detail::json_only_keys(dp, {"name", "mlp"}, wd);
    s.deep_name = detail::json_get<std::string>(dp, "name", wd);
    s.deep = detail::mlp_from_json(detail::json_at(dp, "mlp", wd), wd + " 'mlp'");
    return s;
  }
  static void check_sizes(const Spec& s, std::uint64_t elements, std::size_t tensors, const std::string& src) {
    detail::check_width(s.input.embedding_dim, elements, "a cross tower's embedding_dim", src);
    detail::check_width(s.cross.depth, tensors, "a cross tower's depth", src);
    detail::check_width(s.cross.layer.rank, elements, "a cross tower's rank", src);
    detail::check_mlp_sizes(s.deep, elements, src);
  }
};

template <>
struct TowerBodyTraits<TransformerTowerBody> {
  static constexpr std::string_view kind = "transformer";
  using Spec = TransformerTowerBody::Options;
  static Spec spec(const TransformerTowerBody& b) { return b.options(); }
  static TransformerTowerBody make(const Spec& s) { return TransformerTowerBody(s); }
  static nlohmann::json to_json(const Spec& s) {
    return {{"tokens",
             {{"group", s.tokens.group},
              {"fields", s.tokens.fields},
              {"embedding_dim", s.tokens.embedding_dim},
              {"max_len", s.tokens.max_len},
              {"init", detail::init_to_json(s.tokens.init)}}},
            {"blocks", s.blocks},
            {"heads", s.heads},
            {"ff_hidden", s.ff_hidden},
            {"dropout", s.dropout},
            {"norm_first", s.norm_first},
            {"pooling", to_string(s.pooling)},
            {"output_dim", s.output_dim}};
  }
  static Spec from_json(const nlohmann::json& j, const std::string& what) {
    detail::json_only_keys(j, {"tokens", "blocks", "heads", "ff_hidden", "dropout", "norm_first", "pooling", "output_dim"},
                           what);
    Spec s;
    const std::string wt = what + " 'tokens'";
    const nlohmann::json& t = detail::json_at(j, "tokens", what);
    detail::json_only_keys(t, {"group", "fields", "embedding_dim", "max_len", "init"}, wt);
    s.tokens.group = detail::json_get<std::string>(t, "group", wt);
    s.tokens.fields = detail::json_get<std::vector<std::string>>(t, "fields", wt);
    s.tokens.embedding_dim = detail::json_size(t, "embedding_dim", wt);
    s.tokens.max_len = detail::json_size(t, "max_len", wt);
    s.tokens.init = detail::init_from_json(t, "init", wt);
    s.blocks = detail::json_size(j, "blocks", what);
    s.heads = detail::json_size(j, "heads", what);
    s.ff_hidden = detail::json_size(j, "ff_hidden", what);
    s.dropout = detail::json_get<double>(j, "dropout", what);
    s.norm_first = detail::json_get<bool>(j, "norm_first", what);
    s.pooling = parse_token_pooling(detail::json_get<std::string>(j, "pooling", what));
    s.output_dim = detail::json_size(j, "output_dim", what);
    return s;
  }
  static void check_sizes(const Spec& s, std::uint64_t elements, std::size_t tensors, const std::string& src) {
    detail::check_width(s.tokens.embedding_dim, elements, "a Transformer tower's embedding_dim", src);
    detail::check_width(s.tokens.max_len, elements, "a Transformer tower's max_len", src);
    detail::check_width(s.blocks, tensors, "a Transformer tower's blocks", src);
    detail::check_width(s.heads, elements, "a Transformer tower's heads", src);
    detail::check_width(s.ff_hidden, elements, "a Transformer tower's ff_hidden", src);
    detail::check_width(s.output_dim, elements, "a Transformer tower's output_dim", src);
  }
};

/// Every option of a Tower<Body>: the tower's own and its body's.
template <class Body>
struct TowerSpec {
  typename Tower<Body>::Options tower{};
  typename TowerBodyTraits<Body>::Spec body{};
};

template <class TowerType>
struct TowerTraits;

template <class Body>
struct TowerTraits<Tower<Body>> {
  using BodyTraits = TowerBodyTraits<Body>;
  using Spec = TowerSpec<Body>;
  static constexpr std::string_view kind = BodyTraits::kind;

  static Spec spec(const Tower<Body>& t) { return {t.options(), BodyTraits::spec(t.body())}; }
  static Tower<Body> make(const Spec& s) { return Tower<Body>(s.tower, BodyTraits::make(s.body)); }

  static nlohmann::json to_json(const Spec& s) {
    const auto& t = s.tower;
    return {{"kind", std::string(kind)},
            {"name", t.name},
            {"group", t.group},
            {"fields", t.fields},
            {"embedding_dim", t.embedding_dim},
            {"normalize", t.normalize},
            {"eps", t.eps},
            {"embedding_init", detail::init_to_json(t.embedding_init)},
            {"body", BodyTraits::to_json(s.body)}};
  }
  /// `what` names the tower in errors (e.g. "two_tower options 'query'").
  static Spec from_json(const nlohmann::json& j, const std::string& what) {
    const std::string file_kind = detail::json_get<std::string>(j, "kind", what);
    CTRNET_CHECK(file_kind == kind, what, ": the file holds a '", file_kind, "' tower, the model type has a '", kind,
                 "' tower (Tower<", kind == "mlp" ? "MLP" : kind == "cross" ? "CrossTowerBody" : "TransformerTowerBody",
                 ">)");
    detail::json_only_keys(j, {"kind", "name", "group", "fields", "embedding_dim", "normalize", "eps", "embedding_init", "body"},
                           what);
    Spec s;
    s.tower.name = detail::json_get<std::string>(j, "name", what);
    s.tower.group = detail::json_get<std::string>(j, "group", what);
    s.tower.fields = detail::json_get<std::vector<std::string>>(j, "fields", what);
    s.tower.embedding_dim = detail::json_size(j, "embedding_dim", what);
    s.tower.normalize = detail::json_get<bool>(j, "normalize", what);
    s.tower.eps = detail::json_get<double>(j, "eps", what);
    s.tower.embedding_init = detail::init_from_json(j, "embedding_init", what);
    s.body = BodyTraits::from_json(detail::json_at(j, "body", what), what + " 'body'");
    return s;
  }
  static void check_sizes(const Spec& s, std::uint64_t elements, std::size_t tensors, const std::string& src) {
    detail::check_width(s.tower.embedding_dim, elements, "a tower's embedding_dim", src);
    BodyTraits::check_sizes(s.body, elements, tensors, src);
  }
};

}  // namespace ctrnet
