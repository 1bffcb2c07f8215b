// ctrnet: header-only C++20 library for click-through-rate prediction and recommendation models.
// This umbrella header includes everything; the short entry headers (wide_deep.hpp, ...) include
// one model family with what is needed to train it.
#pragma once

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/init.hpp"
#include "ctrnet/core/layer.hpp"
#include "ctrnet/core/matrix.hpp"
#include "ctrnet/core/params.hpp"
#include "ctrnet/core/rng.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"
#include "ctrnet/policy/cpu_simd.hpp"

#include "ctrnet/kernels/elementwise.hpp"
#include "ctrnet/kernels/gemm.hpp"

#include "ctrnet/kernels/cross.hpp"
#include "ctrnet/layers/activation.hpp"
#include "ctrnet/layers/cross.hpp"
#include "ctrnet/layers/dropout.hpp"
#include "ctrnet/layers/embedding.hpp"
#include "ctrnet/layers/feature_input.hpp"
#include "ctrnet/layers/linear.hpp"
#include "ctrnet/layers/mlp.hpp"
#include "ctrnet/layers/wide.hpp"

#include "ctrnet/compose/model.hpp"
#include "ctrnet/compose/named.hpp"
#include "ctrnet/compose/parallel.hpp"
#include "ctrnet/compose/residual.hpp"
#include "ctrnet/compose/sequential.hpp"
#include "ctrnet/compose/stack.hpp"

#include "ctrnet/heads/binary.hpp"
#include "ctrnet/heads/regression.hpp"

#include "ctrnet/data/batch.hpp"
#include "ctrnet/data/dataset.hpp"
#include "ctrnet/data/schema.hpp"
#include "ctrnet/data/synthetic.hpp"

#include "ctrnet/models/dcn.hpp"
#include "ctrnet/models/logistic_regression.hpp"
#include "ctrnet/models/wide_deep.hpp"
#include "ctrnet/two_tower.hpp"
#include "ctrnet/dlrm.hpp"
#include "ctrnet/tab_transformer.hpp"
#include "ctrnet/item_to_item.hpp"
#include "ctrnet/io/checkpoint.hpp"
#include "ctrnet/io/model_io.hpp"

#include "ctrnet/train/metrics.hpp"
#include "ctrnet/train/trainer.hpp"
