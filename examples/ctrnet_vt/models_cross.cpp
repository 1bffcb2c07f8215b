// ctrnet-vt --towers cross: the item-to-item model with DCN-V2 cross towers (ItemToItemCross / ItemToItemCrossListwise).
#include "ctrnet_vt.hpp"

namespace ctrnet_vt {

std::optional<RecommendationLists> train_cross_towers(const Run& run) {
  return run.listwise ? train_model<ItemToItemCrossListwise>(run) : train_model<ItemToItemCross>(run);
}

}  // namespace ctrnet_vt
