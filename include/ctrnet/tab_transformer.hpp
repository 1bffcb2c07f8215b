// Entry header: TabTransformer (and the attention layers it is built from), with its save/load
// traits, the trainer and the data types.
#pragma once
#include "ctrnet/data/dataset.hpp"
#include "ctrnet/data/synthetic.hpp"
#include "ctrnet/io/architecture_tab_transformer.hpp"
#include "ctrnet/layers/token_pooling.hpp"
#include "ctrnet/models/tab_transformer.hpp"
#include "ctrnet/train/metrics.hpp"
#include "ctrnet/train/trainer.hpp"
