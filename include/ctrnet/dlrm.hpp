// Entry header: DLRM (bottom MLP, dot interaction, top MLP), with the trainer and the data types.
#pragma once
#include "ctrnet/data/dataset.hpp"
#include "ctrnet/data/synthetic.hpp"
#include "ctrnet/io/architecture_dlrm.hpp"
#include "ctrnet/models/dlrm.hpp"
#include "ctrnet/train/metrics.hpp"
#include "ctrnet/train/trainer.hpp"
