// Two-tower retrieval, everything a user needs: towers, similarities, the model types and
// aliases, the objectives (pointwise, in-batch softmax with logQ, mixed negatives), the trainer,
// the item index with exact top-K, ranking metrics, the MovieLens reader and save/load
// (save_model / load_model<M>, io/architecture_two_tower.hpp).
//   #include <ctrnet/two_tower.hpp>
// See docs/two_tower.md and docs/custom_tower.md.
#pragma once
#include "ctrnet/compose/tower.hpp"
#include "ctrnet/compose/two_tower.hpp"
#include "ctrnet/data/readers/movielens.hpp"
#include "ctrnet/heads/retrieval.hpp"
#include "ctrnet/io/architecture_two_tower.hpp"
#include "ctrnet/layers/similarity.hpp"
#include "ctrnet/models/two_tower.hpp"
#include "ctrnet/models/two_tower_cross.hpp"
#include "ctrnet/models/two_tower_transformer.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"
#include "ctrnet/policy/cpu_simd.hpp"
#include "ctrnet/serve/item_index.hpp"
#include "ctrnet/serve/topk.hpp"
#include "ctrnet/train/ranking_metrics.hpp"
#include "ctrnet/train/two_tower_trainer.hpp"
