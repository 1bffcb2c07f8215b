// ctrnet-vt --towers mlp: the item-to-item model with MLP towers (ItemToItem / ItemToItemListwise).
#include "ctrnet_vt.hpp"

namespace ctrnet_vt {

std::optional<RecommendationLists> train_mlp_towers(const Run& run) {
  return run.listwise ? train_model<ItemToItemListwise>(run) : train_model<ItemToItem>(run);
}

}  // namespace ctrnet_vt
