// The C ABI of base sharing: a separate LoRA critic on its policy's frozen base.
#include "abi_handles.hpp"

using r4j::guarded;
using r4j::require;
using r4j::require_out;
using r4j::Use;

extern "C" {

R4J_API r4j_status r4j_model_share_base(r4j_model* model, const r4j_model* from, int64_t* out_bytes) {
  return guarded(__func__, [&] {
    require(model != from, "share_base: model and from are the same model");
    Use<r4j_model> m(model, "model");
    Use<r4j_model> f(from, "from");
    const int64_t bytes = m->model->share_base(*f->model);
    if (out_bytes != nullptr) *out_bytes = bytes;
  });
}

R4J_API r4j_status r4j_model_shared_base_bytes(const r4j_model* model, int64_t* out_bytes) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require_out(out_bytes, "out_bytes");
    *out_bytes = m->model->shared_base_bytes();
  });
}

}  // extern "C"
