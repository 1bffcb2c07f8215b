// "Viewed together" lists of an item-to-item model (models/item_to_item.hpp): for every item A its
// top-K related items B ≠ A, scored over the WHOLE catalogue, exactly.
//
// Exact retrieval trick. The pair features of (A, B) are exactly 0 for every B that never
// co-occurs with A (data/pair_features.hpp), so the context vector u(A, 0) is the same for all of
// them and their scores are one matrix product with the item vectors:
//   s(A, B) = ⟨u(A, 0), v_B⟩ + d_B + c + wᵀx_A(0)      B ∉ N(A) ∪ {A}    (one top-K, serve/topk.hpp,
//                                                                        N(A) ∪ {A} excluded)
//   s(A, B) = ⟨u(A, pf(A, B)), v_B⟩ + d_B + c + wᵀx_A(pf)  B ∈ N(A)        (one context row per pair)
// where N(A) = table.neighbors(A). This needs u to be a function of the row's own fields only,
// which holds for every tower kind of models/item_to_item.hpp: the MLP tower, the DCN-V2 cross
// tower (FieldInteractionInput, CrossNet and MLP are row-wise) and the Transformer tower
// (attention runs over one row's tokens; LayerNorm is per token; dropout is off at inference). The two candidate sets are disjoint; merging them (score
// descending, ties to the lower index) gives exactly the top-K of a full scoring of every B ≠ A.
// The item vectors get one more column d_B (0 without item_bias) and the context vectors a 1.
// Ranking by the GloVe output instead (ScoreOutput::glove) uses ŷ = ⟨u, v_B⟩ + b_A + b̃_B: the
// extra column is then b̃_B. A mix of the two (glove_mix = λ > 0, relevance output) ranks by
//   s + λ·ŷ = (1 + λ)⟨u, v_B⟩ + (d_B + λ b̃_B) + (c + wᵀx_A + λ b_A):
// the context vectors are scaled by 1 + λ and the extra column is d_B + λ b̃_B — still exact.
// Writers: CSV `item,rank,related,score` (raw item ids, rank from 1) or JSON lines
// {"item": id, "related": [ids], "scores": [..]}.
#pragma once
#include <algorithm>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "ctrnet/data/cooccurrence.hpp"
#include "ctrnet/io/output_file.hpp"
#include "ctrnet/serve/item_cf.hpp"
#include "ctrnet/serve/topk.hpp"
#include "ctrnet/train/item_to_item_trainer.hpp"

namespace ctrnet {

enum class ScoreOutput { relevance, glove };

struct RelatedItemsOptions {
  index_t k = 20;
  ScoreOutput output = ScoreOutput::relevance;
  index_t block = 512;  ///< query items per block
  double glove_mix = 0.0;  ///< λ >= 0: rank by s + λ·ŷ (relevance output only; needs glove_biases)
};

namespace detail {
// Rows of the item tower (or context tower with zero pair features) for items [begin, begin + n).
inline void self_rows(const ItemPairFeaturizer& fz, Batch& b, index_t begin, index_t n) {
  b.clear();
  for (index_t i = begin; i < begin + n; ++i) fz.add(b, i, i, 0.0f, 1.0f, /*zero_pair=*/true);
  b.set_size(n);
}
}  // namespace detail

/// \brief Every item's top-K related items by the model (exact; see the header comment).
template <class P, class Body, class... Heads>
RecommendationLists related_items(const P& p, const BasicModel<float, Body, Heads...>& model,
                                  const ItemPairFeaturizer& fz, const RelatedItemsOptions& o = {}) {
  CTRNET_CHECK(o.k > 0, "related_items: K must be positive, got ", o.k);
  CTRNET_CHECK(o.block > 0, "related_items: block must be positive, got ", o.block);
  const Body& body = model.body();
  const Weights<float> w = model.weights();
  const CooccurrenceTable& t = fz.table();
  const index_t N = fz.num_items(), d = body.dim(), K = o.k;
  const bool glove = o.output == ScoreOutput::glove;
  CTRNET_CHECK(!glove || body.options().glove_biases, "related_items: ranking by the GloVe output needs glove_biases");
  CTRNET_CHECK(o.glove_mix >= 0.0, "related_items: glove_mix must be >= 0, got ", o.glove_mix);
  const float mix = glove ? 0.0f : static_cast<float>(o.glove_mix);
  CTRNET_CHECK(mix == 0.0f || body.options().glove_biases, "related_items: glove_mix > 0 needs glove_biases");
  const index_t da = d + 1;  // [v_B | extra_B], [u_A | 1]

  // Item vectors.
  Matrix<float> V(N, da, 0.0f);
  Batch batch = fz.make_batch();
  typename Body::item_tower_type::template Cache<float> ic;
  typename Body::context_tower_type::template Cache<float> cc;
  Matrix<float> tmp;
  for (index_t begin = 0; begin < N; begin += o.block) {
    const index_t n = std::min(o.block, N - begin);
    detail::self_rows(fz, batch, begin, n);
    tmp.resize(n, d);
    body.item_tower().forward(p, w, batch.view(), tmp.view(), ic);
    for (index_t r = 0; r < n; ++r) {
      std::copy_n(tmp.view().row(r), d, V.view().row(begin + r));
      V(begin + r, d) = glove                         ? w.table(body.item_bias_table())(begin + r, 0)
                        : body.options().item_bias ? w.table(body.relevance_item_bias_table())(begin + r, 0)
                                                   : 0.0f;
      if (mix != 0.0f) V(begin + r, d) += mix * w.table(body.item_bias_table())(begin + r, 0);
    }
  }

  RecommendationLists out;
  out.k = K;
  out.items.assign(static_cast<std::size_t>(N * K), -1);
  out.scores.assign(static_cast<std::size_t>(N * K), 0.0f);
  Matrix<float> U;
  std::vector<float> offset;
  TopK<float> top;
  Exclusions excl;
  typename BasicModel<float, Body, Heads...>::Cache mc;
  std::vector<ItemScore> cand;
  for (index_t begin = 0; begin < N; begin += o.block) {
    const index_t n = std::min(o.block, N - begin);
    // (1) u(A, 0) for the block, one top-K over all items minus N(A) ∪ {A}.
    detail::self_rows(fz, batch, begin, n);
    tmp.resize(n, d);
    body.context_tower().forward(p, w, batch.view(), tmp.view(), cc);
    U.resize(n, da);
    excl.clear();
    offset.resize(static_cast<std::size_t>(n));
    {
      const BatchView bv = batch.view();
      for (index_t r = 0; r < n; ++r) {
        offset[static_cast<std::size_t>(r)] = body.relevance_offset(w, bv, r);
        if (mix != 0.0f) offset[static_cast<std::size_t>(r)] += mix * w.table(body.context_bias_table())(begin + r, 0);
      }
    }
    std::vector<index_t> ex;
    for (index_t r = 0; r < n; ++r) {
      std::copy_n(tmp.view().row(r), d, U.view().row(r));
      if (mix != 0.0f)
        for (index_t j = 0; j < d; ++j) U(r, j) *= 1.0f + mix;
      U(r, d) = 1.0f;
      ex.assign(1, begin + r);
      for (const CooccurrencePair& q : t.neighbors(begin + r)) ex.push_back(q.item);
      excl.add(ex);
    }
    exact_topk(p, U.cview(), V.cview(), K, top, excl.view());
    // (2) the co-occurring B one by one, with their real pair features (through the model).
    batch.clear();
    for (index_t r = 0; r < n; ++r)
      for (const CooccurrencePair& q : t.neighbors(begin + r)) fz.add(batch, begin + r, q.item, 0.0f, 1.0f);
    batch.set_size(static_cast<index_t>(batch.labels.size()));
    if (batch.size() > 0) model.forward(p, batch.view(), mc);
    // (3) merge.
    index_t row = 0;
    for (index_t r = 0; r < n; ++r) {
      const index_t a = begin + r;
      const float ba = glove ? w.table(body.context_bias_table())(a, 0) : offset[static_cast<std::size_t>(r)];
      cand.clear();
      for (index_t j = 0; j < K; ++j)
        if (top.rows(r, j) >= 0) cand.push_back({top.rows(r, j), top.scores(r, j) + ba});
      for (std::size_t q = 0; q < t.neighbors(a).size(); ++q, ++row)
        cand.push_back({t.neighbors(a)[q].item,
                        glove ? mc.logits(row, 1) : mc.logits(row, 0) + (mix != 0.0f ? mix * mc.logits(row, 1) : 0.0f)});
      const auto m = std::min<std::size_t>(cand.size(), static_cast<std::size_t>(K));
      std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(m), cand.end(),
                        [](const ItemScore& x, const ItemScore& y) {
                          return x.score != y.score ? x.score > y.score : x.item < y.item;
                        });
      for (std::size_t j = 0; j < m; ++j) {
        out.items[static_cast<std::size_t>(a * K) + j] = cand[j].item;
        out.scores[static_cast<std::size_t>(a * K) + j] = cand[j].score;
      }
    }
  }
  return out;
}

/// \brief Writes lists as CSV (`item,rank,related,score`, raw ids) or JSON lines into an open output
/// (io/output_file.hpp), which the caller commits; the format is chosen by the output path's
/// extension (.jsonl / .json: JSON lines, anything else: CSV).
inline void write_related_items(OutputFile& out, const RecommendationLists& lists, const CooccurrenceTable& table) {
  const std::string& path = out.path();
  const bool json = path.ends_with(".jsonl") || path.ends_with(".json");
  if (!json) out.write("item,rank,related,score\n");
  std::string line;
  char buf[64];
  for (index_t i = 0; i < lists.num_items(); ++i) {
    const auto items = lists.list(i);
    const auto scores = lists.list_scores(i);
    const std::string id = std::to_string(table.item_id(i));
    line.clear();
    if (json) {
      line += "{\"item\":" + id + ",\"related\":[";
      bool first = true;
      for (index_t j = 0; j < lists.k; ++j)
        if (items[static_cast<std::size_t>(j)] >= 0) {
          line += (first ? "" : ",") + std::to_string(table.item_id(items[static_cast<std::size_t>(j)]));
          first = false;
        }
      line += "],\"scores\":[";
      first = true;
      for (index_t j = 0; j < lists.k; ++j)
        if (items[static_cast<std::size_t>(j)] >= 0) {
          std::snprintf(buf, sizeof buf, "%.6g", static_cast<double>(scores[static_cast<std::size_t>(j)]));
          line += (first ? "" : ",");
          line += buf;
          first = false;
        }
      line += "]}\n";
    } else {
      for (index_t j = 0; j < lists.k; ++j) {
        const index_t b = items[static_cast<std::size_t>(j)];
        if (b < 0) continue;
        std::snprintf(buf, sizeof buf, "%.6g", static_cast<double>(scores[static_cast<std::size_t>(j)]));
        line += id + ',' + std::to_string(j + 1) + ',' + std::to_string(table.item_id(b)) + ',' + buf + '\n';
      }
    }
    out.write(line);
  }
}

/// \brief Writes lists to `path` atomically (OutputFile: a failed write leaves the old file, or
/// none); CSV or JSON lines as above.
inline void write_related_items(const std::string& path, const RecommendationLists& lists,
                                const CooccurrenceTable& table) {
  OutputFile out(path);
  write_related_items(out, lists, table);
  out.commit();
}

}  // namespace ctrnet
