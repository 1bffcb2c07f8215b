// ctrnet-train: TabTransformer (see ctrnet_train.hpp). Token width --embedding-dim, --blocks
// Transformer blocks of --attention-heads heads, then the MLP (--hidden, --dropout) over
// [dense | contextual embeddings]. Two choices differ from the paper's defaults because they
// measured better on criteo-8k (docs/models.md): the per-column vector is added to the value
// embedding (column_mode add) and the log1p'd dense features go to the MLP as they are (no
// per-row layer norm across the 13 unrelated counts, which discards their common scale).
#include "ctrnet_train.hpp"
#include "ctrnet/io/architecture_tab_transformer.hpp"
#include "ctrnet/models/tab_transformer.hpp"

namespace ctrnet_train {

int train_tab_transformer_models(const Args& a, const Schema& schema, const InMemoryDataset& train,
                                 const InMemoryDataset* valid, const InMemoryDataset* test) {
  if (a.model == "tab_transformer") {
    TabTransformerOptions o;
    o.embedding_dim = a.embedding_dim;
    o.column_mode = ColumnEmbedding::add;
    o.dense_norm = false;
    o.blocks = a.blocks;
    o.heads = a.attention_heads;
    o.hidden = a.hidden;
    o.dropout = a.dropout;
    check_model_memory(a, schema, make_tab_transformer_body(o));
    auto m = make_tab_transformer(schema, o, a.seed);
    return train_and_test(m, a, train, valid, test);
  }
  detail::throw_error("ctrnet-train: unknown model '", a.model, "'");
}

}  // namespace ctrnet_train
