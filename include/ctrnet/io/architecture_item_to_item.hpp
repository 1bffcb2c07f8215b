// Persistence of the item-to-item models (models/item_to_item.hpp): ArchitectureTraits keyed by the
// model type Model<ItemPairBody<ContextTower, ItemTower>, Relevance, GloveHead> for any towers
// TowerTraits knows (io/architecture_tower.hpp: Tower<MLP>, Tower<CrossTowerBody>,
// Tower<TransformerTowerBody>) and Relevance = BinaryHead (name "item_to_item") or
// GroupSoftmaxHead ("item_to_item_listwise"). __metadata__ "options" holds everything, the heads'
// options included:
//   {"context": <tower>, "item": <tower>,
//    "pair": {"context_field", "item_field", "relevance_bias", "glove_biases", "context_linear",
//             "item_bias", "context_group"},
//    "relevance": {"kind": "binary", "weight", "target"}
//               | {"kind": "group_softmax", "weight", "target", "log_correction"},
//    "glove": {"kind": "glove", "weight", "target", "x_max", "alpha"}}
// Include it (after or instead of io/model_io.hpp) wherever item-to-item models are saved or loaded.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "ctrnet/compose/model.hpp"
#include "ctrnet/heads/binary.hpp"
#include "ctrnet/heads/glove.hpp"
#include "ctrnet/io/architecture_heads.hpp"
#include "ctrnet/io/architecture_tower.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/models/item_to_item.hpp"

namespace ctrnet {

template <>
struct HeadTraits<GroupSoftmaxHead> {
  static nlohmann::json to_json(const GroupSoftmaxHead& h) {
    nlohmann::json j = detail::head_options_to_json(GroupSoftmaxHead::name, h.opt);
    j["log_correction"] = h.log_correction;
    return j;
  }
  static GroupSoftmaxHead from_json(const nlohmann::json& j, const std::string& what) {
    detail::json_only_keys(j, {"kind", "weight", "target", "log_correction"}, what);
    GroupSoftmaxHead h;
    h.opt = detail::head_options_from_json(j, GroupSoftmaxHead::name, what);
    h.log_correction = detail::json_get<double>(j, "log_correction", what);
    return h;
  }
};

namespace detail {
/// The architecture name of an item-to-item model by its relevance head.
template <class R>
inline constexpr std::string_view item_to_item_name = std::is_same_v<R, GroupSoftmaxHead> ? "item_to_item_listwise"
                                                      : std::is_same_v<R, BinaryHead>    ? "item_to_item"
                                                                                         : "";
template <class R>
concept ItemToItemRelevanceHead = !item_to_item_name<R>.empty();
}  // namespace detail

/// Every option of an item-to-item model: both towers', the pair body's and the two heads'.
template <class C, class I, class R>
struct ItemToItemSpec {
  typename TowerTraits<C>::Spec context{};
  typename TowerTraits<I>::Spec item{};
  typename ItemPairBody<C, I>::Options pair{};
  R relevance{};
  GloveHead glove{};
};

template <class C, class I, class R>
void to_json(nlohmann::json& j, const ItemToItemSpec<C, I, R>& o) {
  const auto& p = o.pair;
  j = {{"context", TowerTraits<C>::to_json(o.context)},
       {"item", TowerTraits<I>::to_json(o.item)},
       {"pair",
        {{"context_field", p.context_field},
         {"item_field", p.item_field},
         {"relevance_bias", p.relevance_bias},
         {"glove_biases", p.glove_biases},
         {"context_linear", p.context_linear},
         {"item_bias", p.item_bias},
         {"context_group", p.context_group}}},
       {"relevance", HeadTraits<R>::to_json(o.relevance)},
       {"glove", HeadTraits<GloveHead>::to_json(o.glove)}};
}
template <class C, class I, class R>
void from_json(const nlohmann::json& j, ItemToItemSpec<C, I, R>& o) {
  const std::string w = std::string(detail::item_to_item_name<R>) + " options";
  detail::json_only_keys(j, {"context", "item", "pair", "relevance", "glove"}, w);
  o.context = TowerTraits<C>::from_json(detail::json_at(j, "context", w), w + " 'context'");
  o.item = TowerTraits<I>::from_json(detail::json_at(j, "item", w), w + " 'item'");
  const std::string wp = w + " 'pair'";
  const nlohmann::json& p = detail::json_at(j, "pair", w);
  detail::json_only_keys(p,
                         {"context_field", "item_field", "relevance_bias", "glove_biases", "context_linear", "item_bias",
                          "context_group"},
                         wp);
  o.pair.context_field = detail::json_get<std::string>(p, "context_field", wp);
  o.pair.item_field = detail::json_get<std::string>(p, "item_field", wp);
  o.pair.relevance_bias = detail::json_get<bool>(p, "relevance_bias", wp);
  o.pair.glove_biases = detail::json_get<bool>(p, "glove_biases", wp);
  o.pair.context_linear = detail::json_get<bool>(p, "context_linear", wp);
  o.pair.item_bias = detail::json_get<bool>(p, "item_bias", wp);
  o.pair.context_group = detail::json_get<std::string>(p, "context_group", wp);
  o.relevance = HeadTraits<R>::from_json(detail::json_at(j, "relevance", w), w + " 'relevance'");
  o.glove = HeadTraits<GloveHead>::from_json(detail::json_at(j, "glove", w), w + " 'glove'");
}

/// Widths a file claims, checked against the elements it stores before anything is allocated.
template <class C, class I, class R>
void check_option_sizes(const ItemToItemSpec<C, I, R>& o, std::uint64_t elements, std::size_t tensors,
                        const std::string& src) {
  TowerTraits<C>::check_sizes(o.context, elements, tensors, src);
  TowerTraits<I>::check_sizes(o.item, elements, tensors, src);
}

template <class T, class C, class I, class R>
  requires detail::ItemToItemRelevanceHead<R>
struct ArchitectureTraits<BasicModel<T, ItemPairBody<C, I>, R, GloveHead>> {
  using Model = BasicModel<T, ItemPairBody<C, I>, R, GloveHead>;
  using Body = ItemPairBody<C, I>;
  static constexpr std::string_view name = detail::item_to_item_name<R>;
  using Options = ItemToItemSpec<C, I, R>;
  static Options options(const Model& m) {
    const Body& b = m.body();
    return {TowerTraits<C>::spec(b.context_tower()), TowerTraits<I>::spec(b.item_tower()), b.options(),
            m.template head<0>(), m.template head<1>()};
  }
  static Body make_body(const Options& o) {
    return Body(TowerTraits<C>::make(o.context), TowerTraits<I>::make(o.item), o.pair);
  }
  static Model make_model(const Options& o) { return Model(make_body(o), o.relevance, o.glove); }
  static void declare(const Options& o, const Schema& schema, ParamRegistry& reg) {
    Body b = make_body(o);
    b.build(schema, reg);
  }
};

}  // namespace ctrnet
