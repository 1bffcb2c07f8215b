// Entry header: DCN and DCN-V2 (stacked, parallel), with the trainer and the data types.
#pragma once
#include "ctrnet/data/dataset.hpp"
#include "ctrnet/data/synthetic.hpp"
#include "ctrnet/models/dcn.hpp"
#include "ctrnet/models/logistic_regression.hpp"
#include "ctrnet/train/metrics.hpp"
#include "ctrnet/train/trainer.hpp"
