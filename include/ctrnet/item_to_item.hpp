// Entry header: the item-to-item "viewed together" model (docs/item_to_item.md) and everything
// around it: session logs, co-occurrence counting and pair features, the two-output model (relevance
// + GloVe) with MLP, cross or Transformer towers, its trainer, save/load, related-item lists, the
// item-CF baselines and the next-item evaluation.
//   #include <ctrnet/item_to_item.hpp>
#pragma once
#include "ctrnet/data/cooccurrence.hpp"
#include "ctrnet/data/pair_features.hpp"
#include "ctrnet/data/readers/sessions.hpp"
#include "ctrnet/heads/glove.hpp"
#include "ctrnet/io/architecture_item_to_item.hpp"
#include "ctrnet/models/item_to_item.hpp"
#include "ctrnet/serve/item_cf.hpp"
#include "ctrnet/serve/related_items.hpp"
#include "ctrnet/train/item_to_item_trainer.hpp"
#include "ctrnet/train/next_item_metrics.hpp"
