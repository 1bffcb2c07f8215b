// Persistence of heads (heads/): HeadTraits<H> writes a head's options as JSON,
//   {"kind": H::name, "weight", "target", ...the head's own options}
// and reads them back (checking the kind and every value). Multi-output models save their heads so
// (io/architecture.hpp: BodyArchitecture), and so do the item-to-item models
// (io/architecture_item_to_item.hpp, which adds GroupSoftmaxHead's).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "ctrnet/heads/binary.hpp"
#include "ctrnet/heads/glove.hpp"
#include "ctrnet/heads/head.hpp"
#include "ctrnet/heads/regression.hpp"
#include "ctrnet/io/json_strict.hpp"

namespace ctrnet {

/// The options of a head as JSON: {"kind": H::name, "weight", "target", ...the head's own}.
template <class H>
struct HeadTraits;

namespace detail {
inline nlohmann::json head_options_to_json(const char* kind, const HeadOptions& o) {
  return {{"kind", kind}, {"weight", o.weight}, {"target", o.target}};
}
inline HeadOptions head_options_from_json(const nlohmann::json& j, const char* kind, const std::string& what) {
  const std::string k = json_get<std::string>(j, "kind", what);
  CTRNET_CHECK(k == kind, what, ": the file holds a '", k, "' head, the model type has a '", kind, "' head");
  HeadOptions o;
  o.weight = json_get<double>(j, "weight", what);
  o.target = json_size(j, "target", what);
  CTRNET_CHECK(o.weight >= 0.0 && o.target >= 0, what, ": weight must be >= 0 and target >= 0, got ", j.dump());
  return o;
}
}  // namespace detail

template <>
struct HeadTraits<BinaryHead> {
  static nlohmann::json to_json(const BinaryHead& h) { return detail::head_options_to_json(BinaryHead::name, h.opt); }
  static BinaryHead from_json(const nlohmann::json& j, const std::string& what) {
    detail::json_only_keys(j, {"kind", "weight", "target"}, what);
    return BinaryHead(detail::head_options_from_json(j, BinaryHead::name, what));
  }
};

template <>
struct HeadTraits<RegressionHead> {
  static nlohmann::json to_json(const RegressionHead& h) { return detail::head_options_to_json(RegressionHead::name, h.opt); }
  static RegressionHead from_json(const nlohmann::json& j, const std::string& what) {
    detail::json_only_keys(j, {"kind", "weight", "target"}, what);
    return RegressionHead(detail::head_options_from_json(j, RegressionHead::name, what));
  }
};

template <>
struct HeadTraits<GloveHead> {
  static nlohmann::json to_json(const GloveHead& h) {
    nlohmann::json j = detail::head_options_to_json(GloveHead::name, h.opt);
    j["x_max"] = h.glove.x_max;
    j["alpha"] = h.glove.alpha;
    return j;
  }
  static GloveHead from_json(const nlohmann::json& j, const std::string& what) {
    detail::json_only_keys(j, {"kind", "weight", "target", "x_max", "alpha"}, what);
    const HeadOptions o = detail::head_options_from_json(j, GloveHead::name, what);
    GloveOptions g;
    g.x_max = detail::json_get<double>(j, "x_max", what);
    g.alpha = detail::json_get<double>(j, "alpha", what);
    return GloveHead(o, g);  // checks x_max and alpha
  }
};

}  // namespace ctrnet
