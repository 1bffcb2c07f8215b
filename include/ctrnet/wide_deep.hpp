// Entry header: Wide & Deep and logistic regression, with the trainer and the data types.
#pragma once
#include "ctrnet/data/dataset.hpp"
#include "ctrnet/data/synthetic.hpp"
#include "ctrnet/models/logistic_regression.hpp"
#include "ctrnet/models/wide_deep.hpp"
#include "ctrnet/train/metrics.hpp"
#include "ctrnet/train/trainer.hpp"
